package ntpserver

import (
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

func TestCook(t *testing.T) {
	at := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC).UnixNano()
	var zero SyncState
	if got := zero.Cook(at); got != at {
		t.Errorf("no correction: %d, want %d", got, at)
	}
	// 2 ms still to add at `at`, slewing away at 500 µs/s.
	st := SyncState{Correction: Correction{At: at, Offset: 2e-3, Rate: -500e-6}}
	for _, tc := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, 2 * time.Millisecond},
		{time.Second, 1500 * time.Microsecond},
		{4 * time.Second, 0},
	} {
		raw := at + int64(tc.after)
		if got := time.Duration(st.Cook(raw) - raw); got != tc.want {
			t.Errorf("%v after: correction %v, want %v", tc.after, got, tc.want)
		}
	}
}

// The reply's receive and transmit timestamps are the cooked time, and
// its root dispersion grows at the state's rate, not at PHI.
func TestServerServesCookedTime(t *testing.T) {
	srv, ap := startServer(t, "allow 127.0.0.0/8\n")
	now := time.Now()
	const corr = 250 * time.Millisecond
	srv.SetState(SyncState{
		Leap: wire.LeapNone, Stratum: 3, Precision: -20, RefID: 1,
		RefTime:        wire.TimeToNTP(now.Add(corr - 100*time.Second)),
		RootDelay:      time.Millisecond,
		RootDispersion: time.Millisecond,
		DispRate:       2e-6,
		Correction:     Correction{At: now.UnixNano(), Offset: corr.Seconds()},
	})
	r, err := Query(testCtx(t), nil, ap.String(), 4, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Offset - corr; d < -10*time.Millisecond || d > 10*time.Millisecond {
		t.Errorf("offset %v against our own clock, want the %v correction", r.Offset, corr)
	}
	if r.T3.Before(r.T2) {
		t.Errorf("T3 %v before T2 %v", r.T3, r.T2)
	}
	// 1 ms + 100 s × 2 µs/s = 1.2 ms (PHI would give 2.5 ms).
	got := r.Header.RootDispersion.Duration()
	if want := 1200 * time.Microsecond; math.Abs(float64(got-want)) > float64(50*time.Microsecond) {
		t.Errorf("root dispersion %v, want %v", got, want)
	}
}
