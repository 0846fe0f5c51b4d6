package upstream_test

import (
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
)

// Scenario 1: a box whose clock is 0.5 s ahead and 100 ppm fast starts
// with `makestep 0.1 3` and three LAN servers (iburst, minpoll 6,
// maxpoll 10). It must step exactly once, be within 1 ms within five
// minutes and within 100 µs after half an hour.
func TestStartupConverges(t *testing.T) {
	w := newWorld(t, lanSetup())
	var lastBad float64 // last time |error| was >= 1 ms
	w.Every = time.Second
	w.Observe = func(s *clocktest.Sim) {
		if math.Abs(s.Clock.ErrorSeconds()) >= 1e-3 {
			lastBad = s.Elapsed()
		}
	}
	w.Run(30 * time.Minute)
	if steps := w.Clock.Steps(); len(steps) != 1 {
		t.Fatalf("steps = %v, want exactly one", steps)
	}
	t.Logf("step %v; within 1 ms from t = %.0f s", w.Clock.Steps()[0], lastBad+1)
	if lastBad >= 5*60 {
		t.Errorf("|error| >= 1 ms at t = %.0f s, want within 1 ms after 5 min", lastBad)
	}
	st := w.errorStats(90 * time.Minute)
	t.Logf("30 min–2 h: RMS %s, p99 %s, max %s", us(st.RMS()), us(st.Percentile(99)), us(st.MaxAbs))
	if st.MaxAbs >= 100e-6 {
		t.Errorf("max |error| after 30 min = %s, want < 100 µs", us(st.MaxAbs))
	}
	if len(w.Clock.Steps()) != 1 {
		t.Errorf("stepped again: %v", w.Clock.Steps())
	}
	for _, r := range w.Engine.Sources() {
		t.Logf("%s %-10s poll %2d reach %3o NP %2d NR %2d span %v freq %+.4f skew %.4f offset %v sd %v",
			r.State, r.Name, r.Poll, r.Reach, r.NP, r.NR, r.Span.Round(time.Second), r.Frequency, r.FreqSkew, r.Offset, r.StdDev)
	}
	tr := w.Engine.Tracking()
	t.Logf("tracking: stratum %d freq %.3f ppm skew %.4f rms %v root delay %v disp %v", tr.Stratum, tr.Frequency, tr.Skew, tr.RMSOffset, tr.RootDelay, tr.RootDispersion)
	if f := w.Engine.Frequency(); math.Abs(f-w.Clock.FreqError()) > 0.1 {
		t.Errorf("Frequency() = %.3f ppm, clock's error is %.3f ppm", f, w.Clock.FreqError())
	}
}

// Without makestep the clock is never stepped: 0.5 s is slewed away at
// the kernel's maximum rate.
func TestStartupWithoutMakestepSlews(t *testing.T) {
	s := lanSetup()
	s.cfg.MakeStep = nil
	w := newWorld(t, s)
	w.Run(2 * time.Hour)
	if steps := w.Clock.Steps(); len(steps) != 0 {
		t.Fatalf("steps = %v without makestep", steps)
	}
	if e := w.Clock.Error(); e.Abs() > time.Millisecond {
		t.Errorf("error after 2 h of slewing = %v", e)
	}
}
