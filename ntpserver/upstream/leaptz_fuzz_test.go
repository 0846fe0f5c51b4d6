package upstream

import (
	"testing"
	"time"
)

// FuzzTZifLeaps: any file gives a table or an error, never a panic, and
// a table has only whole leap seconds in order of time.
func FuzzTZifLeaps(f *testing.F) {
	f.Add([]byte("TZif2"))
	f.Add(append([]byte("TZif\x00"), make([]byte, 60)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := parseTZifLeaps(b)
		if err != nil {
			return
		}
		for _, l := range tab {
			if l.delta != 1 && l.delta != -1 {
				t.Fatalf("leap of %d s", l.delta)
			}
			tab.leapAt(time.Unix(l.end-1, 0))
		}
	})
}
