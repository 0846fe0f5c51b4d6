package upstream_test

import (
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// makestep steps the simulated clock by what the servo still had to
// slew: a box 0.5 s ahead without the makestep directive slews for
// minutes; after `ntpbox makestep` its clock is right at once.
func TestMakeStepStepsToTheEstimate(t *testing.T) {
	s := lanSetup()
	s.cfg.MakeStep = nil // slew only
	w := newWorld(t, s)
	w.Run(20 * time.Second) // iburst: synchronised, the slew under way
	before := w.Clock.ErrorSeconds()
	if math.Abs(before) < 0.3 {
		t.Fatalf("clock error %s before makestep, want most of the 0.5 s still there", us(before))
	}
	step, err := w.Engine.MakeStep()
	if err != nil {
		t.Fatal(err)
	}
	after := w.Clock.ErrorSeconds()
	t.Logf("error %s, step %v, error after %s", us(before), step, us(after))
	if math.Abs(after) > 2e-3 {
		t.Errorf("clock error %s after makestep, want within 2 ms", us(after))
	}
	if got := step.Seconds(); math.Abs(got+before) > 2e-3 {
		t.Errorf("step %v, want about %s (the error, the other way)", step, us(-before))
	}
	if st := w.Engine.Tracking(); st.SystemTime.Abs() > 2*time.Millisecond {
		t.Errorf("tracking says the clock is %v off after makestep", st.SystemTime)
	}
	// The box stays synchronised and keeps the clock right.
	w.Run(30 * time.Minute)
	if e := w.Clock.ErrorSeconds(); math.Abs(e) > 1e-3 {
		t.Errorf("clock error %s half an hour after makestep", us(e))
	}
	if st := w.Engine.SyncState(); st.Stratum != 2 {
		t.Errorf("after makestep: stratum %d, want 2", st.Stratum)
	}
	// A second makestep has nothing left to step.
	if step, err := w.Engine.MakeStep(); err != nil || step.Abs() > time.Millisecond {
		t.Errorf("second makestep: %v, %v; want a step under 1 ms", step, err)
	}
}

// Under -x the engine does not control the clock: makestep says so.
func TestMakeStepRefusedWithoutClockControl(t *testing.T) {
	s := lanSetup()
	s.noctl, s.cfg.ClockControl = true, false
	w := newWorld(t, s)
	w.Run(20 * time.Second)
	before := w.Clock.ErrorSeconds()
	if _, err := w.Engine.MakeStep(); !errors.Is(err, upstream.ErrNoClockControl) {
		t.Errorf("makestep under -x: %v, want ErrNoClockControl", err)
	}
	if after := w.Clock.ErrorSeconds(); after != before {
		t.Errorf("the clock moved from %s to %s", us(before), us(after))
	}
}

// burst GOOD/MAX polls the matching sources 2 s apart until GOOD good
// samples came, then at their poll interval again; activity shows them
// in a burst meanwhile.
func TestBurst(t *testing.T) {
	w := newWorld(t, lanSetup())
	w.Run(2 * time.Hour) // the poll interval has grown past minpoll 6
	srcs := w.Engine.Sources()
	if srcs[0].Poll < 7 || srcs[0].Burst {
		t.Fatalf("before the burst: poll %d, burst %v; want ≥ 7 and no burst", srcs[0].Poll, srcs[0].Burst)
	}
	tx := func() []int {
		var out []int
		for _, s := range w.Engine.Sources() {
			out = append(out, s.NTP.TotalTx)
		}
		return out
	}
	tx0 := tx()
	first := netip.MustParseAddr("198.18.0.1")
	n, err := w.Engine.Burst(3, 6, func(name string, a netip.Addr) bool { return a == first })
	if err != nil || n != 1 {
		t.Fatalf("burst of 198.18.0.1: %d sources, %v; want 1", n, err)
	}
	if r := w.Engine.Sources(); !r[0].Burst || r[1].Burst {
		t.Errorf("burst flags %v %v, want only the first source's", r[0].Burst, r[1].Burst)
	}
	w.Run(10 * time.Second)
	tx1 := tx()
	if d := tx1[0] - tx0[0]; d != 3 {
		t.Errorf("the bursting source sent %d requests in 10 s, want 3 (3 good samples)", d)
	}
	for i := 1; i < 3; i++ {
		if d := tx1[i] - tx0[i]; d > 1 { // at most their own poll
			t.Errorf("source %d, not in the burst, sent %d requests in 10 s", i, d)
		}
	}
	if r := w.Engine.Sources(); r[0].Burst {
		t.Errorf("still in a burst after its 3 good samples")
	}
	w.Run(time.Minute)
	if d := tx()[0] - tx1[0]; d != 0 {
		t.Errorf("%d requests in the minute after the burst, want the poll interval again (≥ 128 s)", d)
	}

	// All sources, and a source that never answers sends MAX.
	w.Server(w.ids[2]).Up = func(float64) bool { return false }
	tx0 = tx()
	if n, err := w.Engine.Burst(2, 4, nil); err != nil || n != 3 {
		t.Fatalf("burst of all: %d sources, %v; want 3", n, err)
	}
	w.Run(20 * time.Second)
	d := tx()
	for i, want := range []int{2, 2, 4} {
		if got := d[i] - tx0[i]; got != want {
			t.Errorf("source %d sent %d requests in the burst, want %d", i, got, want)
		}
	}

	for _, bad := range [][2]int{{1, 0}, {5, 4}, {-1, 4}, {1, 65}} {
		if _, err := w.Engine.Burst(bad[0], bad[1], nil); err == nil {
			t.Errorf("burst %d/%d accepted", bad[0], bad[1])
		}
	}
}
