package upstream_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/discipline"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Scenario 2: one of three servers is 50 ms off. It is never selected
// nor combined, and ends up marked as a falseticker.
func TestFalsetickerNeverSelected(t *testing.T) {
	w := newWorld(t, lanSetup())
	bad := w.ids[1]
	w.Server(bad).Offset = clocktest.Constant(50 * time.Millisecond)
	w.Every = time.Second
	w.Observe = func(s *clocktest.Sim) {
		if st := w.source(bad).State; st == "*" || st == "+" {
			t.Fatalf("t=%.0f s: falseticker in state %q", s.Elapsed(), st)
		}
	}
	w.Run(3 * time.Hour)
	if st := w.source(bad).State; st != "x" {
		t.Errorf("falseticker state %q, want x", st)
	}
	if e := w.Clock.Error(); e.Abs() > 100*time.Microsecond {
		t.Errorf("clock error %v with a falseticker", e)
	}
}

// Scenario 3a: one of three servers steps by an hour. It is rejected as
// a falseticker and the clock does not follow.
func TestOneSourceStepsAnHour(t *testing.T) {
	w := newWorld(t, lanSetup())
	jumper := w.ids[0]
	w.Server(jumper).Offset = clocktest.Step(3600, time.Hour)
	w.Run(time.Hour)
	steps := len(w.Clock.Steps())
	var worst float64
	w.Every = time.Second
	w.Observe = func(s *clocktest.Sim) {
		worst = max(worst, math.Abs(s.Clock.ErrorSeconds()))
		// Until its next poll the source's statistics predate the jump;
		// once they hold it, it must never be selected or combined.
		r := w.source(jumper)
		if r.Offset.Abs() > time.Second && (r.State == "*" || r.State == "+") {
			t.Fatalf("t=%.0f s: source an hour off in state %q", s.Elapsed(), r.State)
		}
	}
	w.Run(3 * time.Hour)
	if len(w.Clock.Steps()) != steps {
		t.Errorf("clock stepped after the source's jump: %v", w.Clock.Steps())
	}
	if worst > 100e-6 {
		t.Errorf("max |error| after the jump = %s", us(worst))
	}
	if st := w.source(jumper).State; st != "x" {
		t.Errorf("stepped source state %q, want x", st)
	}
}

// Scenario 3b: all three servers step by an hour, with `maxchange 1000 1
// 2`: the engine ignores two such updates, then gives up (Err), stops
// adjusting and serves an unsynchronised state.
func TestAllSourcesStepMaxChangeGivesUp(t *testing.T) {
	s := lanSetup()
	s.cfg.MaxChange = &config.MaxChange{Offset: 1000, Start: 1, Ignore: 2}
	w := newWorld(t, s)
	for _, id := range w.ids {
		w.Server(id).Offset = clocktest.Step(3600, time.Hour)
	}
	w.Run(time.Hour)
	if err := w.Engine.Err(); err != nil {
		t.Fatalf("Err() before the jump: %v", err)
	}
	before := w.Clock.Steps()
	w.Run(2 * time.Hour)
	err := w.Engine.Err()
	if !errors.Is(err, discipline.ErrGaveUp) {
		t.Fatalf("Err() = %v, want maxchange failure", err)
	}
	t.Logf("Err() = %v", err)
	if n := w.logs.count("maxchange: ignoring"); n != 2 {
		t.Errorf("%d large adjustments ignored, want 2", n)
	}
	if len(w.Clock.Steps()) != len(before) {
		t.Errorf("clock stepped: %v", w.Clock.Steps())
	}
	if e := w.Clock.Error(); e.Abs() > time.Millisecond {
		t.Errorf("clock followed the sources: error %v", e)
	}
	if st := w.Engine.SyncState(); st.Leap != wire.LeapUnsynchronised {
		t.Errorf("SyncState after giving up = %+v, want unsynchronised", st)
	}
}

// Scenario 3c: all three servers step by an hour, without maxchange and
// with the makestep limit long used up. The engine follows the majority
// but may not step: it slews at the largest rate the kernel allows (500
// ppm of correction on top of the base frequency), which would take
// months for an hour. Meanwhile the box serves its cooked time, as
// chronyd does: the sources' time, with their bound, while the system
// clock is still slewing.
func TestAllSourcesStepWithoutMaxChangeSlews(t *testing.T) {
	w := newWorld(t, lanSetup())
	for _, id := range w.ids {
		w.Server(id).Offset = clocktest.Step(3600, time.Hour)
	}
	w.Run(time.Hour)
	e0 := w.Clock.ErrorSeconds()
	w.Run(time.Hour)
	if len(w.Clock.Steps()) != 1 {
		t.Fatalf("steps = %v, want only the initial one", w.Clock.Steps())
	}
	e1 := w.Clock.ErrorSeconds()
	t.Logf("slewed %.3f s in the first hour after the jump", e1-e0)
	// The clock is 100 ppm fast and its correction is clamped at +500
	// ppm: it gains at most 600 ppm on true time, about 2.2 s per hour,
	// as it chases the sources an hour ahead.
	if d := e1 - e0; d < 1.5 || d > 2.2 {
		t.Errorf("error moved by %.3f s in an hour, want about +2 s (maximum slew)", d)
	}
	if f, _ := w.Clock.Frequency(); f != 500 {
		t.Errorf("kernel frequency %v ppm, want the +500 ppm limit", f)
	}
	// The time served is the cooked time, the sources' time, not the
	// clock halfway through its slew; the served bound is that of the
	// sources, and it holds.
	st := w.Engine.SyncState()
	served := st.CookTime(w.Clock.Now())
	off := served.Sub(w.Now().Add(time.Hour)).Seconds() // the sources are an hour ahead
	bound := st.RootDelay.Seconds()/2 + st.RootDispersion.Seconds()
	t.Logf("served time %s from the sources', bound %s; system clock %.3f s from true time", us(off), us(bound), w.Clock.ErrorSeconds())
	if math.Abs(off) > bound || bound > 0.01 {
		t.Errorf("served time %s from the sources', bound %s: want the sources' time within a bound under 10 ms", us(off), us(bound))
	}
}

// Scenario 3d: with `makestep 0.1 -1` (step whenever the offset exceeds
// 0.1 s, forever), all three servers stepping by an hour make the clock
// step by an hour too: that is what the configuration asks for.
func TestAllSourcesStepWithUnlimitedMakestepSteps(t *testing.T) {
	s := lanSetup()
	s.cfg.MakeStep = &config.MakeStep{Threshold: 0.1, Limit: -1}
	w := newWorld(t, s)
	for _, id := range w.ids {
		w.Server(id).Offset = clocktest.Step(3600, time.Hour)
	}
	w.Run(3 * time.Hour)
	steps := w.Clock.Steps()
	if len(steps) != 2 || (steps[1]-time.Hour).Abs() > time.Millisecond {
		t.Fatalf("steps %v, want the initial one and one of an hour", steps)
	}
	if e := w.Clock.Error() - time.Hour; e.Abs() > 100*time.Microsecond {
		t.Errorf("clock is %v off the sources", e)
	}
}
