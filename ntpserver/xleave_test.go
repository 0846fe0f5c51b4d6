package ntpserver

import (
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// serverstats' interleaved counters: replies sent in interleaved mode,
// the transmit times held and the seconds their receive timestamps span.
func TestXleaveTableCounts(t *testing.T) {
	x := newXleaveTable()
	if n, span := x.held(); n != 0 || span != 0 || x.hits.Load() != 0 {
		t.Fatalf("empty table: %d held, span %d, %d hits", n, span, x.hits.Load())
	}
	base := wire.TimeToNTP(time.Date(2036, 2, 7, 6, 28, 10, 0, time.UTC)) | 1 // across the NTP era boundary
	for i, d := range []time.Duration{-5 * time.Second, 0, 7 * time.Second} {
		x.put(base.Add(d)|1, wire.Time64(i+2)&^1)
	}
	if n, span := x.held(); n != 3 || span != 12 {
		t.Errorf("3 held over 12 s: got %d held, span %d s", n, span)
	}
	if _, ok := x.take(base.Add(-5*time.Second) | 1); !ok {
		t.Fatal("take of a held timestamp failed")
	}
	if _, ok := x.take(base.Add(-5*time.Second) | 1); ok {
		t.Fatal("a timestamp served twice")
	}
	if n, span := x.held(); n != 2 || span != 7 || x.hits.Load() != 1 {
		t.Errorf("after one interleaved reply: %d held, span %d s, %d hits; want 2, 7, 1", n, span, x.hits.Load())
	}
}
