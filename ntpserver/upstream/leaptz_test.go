package upstream_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// tzif builds a TZif version 2 file whose only contents are leap
// records (Unix time of the midnight after the leap day, +1 or -1),
// written in both the 32-bit and the 64-bit block as zic does.
func tzif(leaps [][2]int64) []byte {
	block := func(ts int) []byte {
		var b []byte
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, len(leaps), 0, 1, 4} { // isut, isstd, leap, time, type, char
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		b = append(b, 0, 0, 0, 0, 0, 0) // one type: UTC
		b = append(b, "UTC\x00"...)
		corr := int64(0)
		for _, l := range leaps {
			at := l[0] + corr // the file's scale counts earlier leap seconds
			corr += l[1]
			if ts == 8 {
				b = binary.BigEndian.AppendUint64(b, uint64(at))
			} else {
				b = binary.BigEndian.AppendUint32(b, uint32(at))
			}
			b = binary.BigEndian.AppendUint32(b, uint32(corr))
		}
		return b
	}
	out := append(block(4), block(8)...)
	return append(out, "\n\n"...)
}

// leapsectz: with the sources announcing nothing, the zone's leap second
// at the end of 30 June is served and handed to the kernel that day; a
// zone that does not exist leaves the sources in charge.
func TestLeapSecTZ(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "right"), 0o755); err != nil {
		t.Fatal(err)
	}
	// 2016-12-31 inserted (a real one), and one at the end of the
	// simulation's first day, 30 June 2025.
	julyFirst := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).Unix()
	if err := os.WriteFile(filepath.Join(dir, "right", "UTC"), tzif([][2]int64{{1483228800, 1}, {julyFirst, 1}}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		zone string
		want wire.Leap
	}{
		{"right/UTC", wire.LeapInsert},
		{"right/Nowhere", wire.LeapNone},
	} {
		s := lanSetup()
		s.cfg.Tuning = config.DefaultTuning()
		s.cfg.Tuning.LeapSecTZ = tc.zone
		s.cfg.ZoneInfoDir = dir
		w := newWorld(t, s)
		w.Run(2 * time.Hour) // clocktest.Start is 30 June 12:00
		st := w.Engine.SyncState()
		if st.Leap != tc.want {
			t.Errorf("%s: serving leap %v, want %v", tc.zone, st.Leap, tc.want)
		}
		if ks, _ := w.Clock.Status(); ks.Leap != clock.Leap(tc.want) {
			t.Errorf("%s: kernel leap %v, want %v", tc.zone, ks.Leap, tc.want)
		}
		if tc.want == wire.LeapNone && w.logs.count("leapsectz: leap seconds come only from the sources") != 1 {
			t.Errorf("%s: the missing zone was not reported: %v", tc.zone, w.logs.msgs)
		}
	}
}
