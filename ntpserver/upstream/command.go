package upstream

import (
	"errors"
	"net/netip"
	"time"
)

// This file is what `ntpbox makestep` and `ntpbox burst` ask of the
// engine (chronyc's makestep and burst; the local control socket only).

// ErrNoClockControl is MakeStep's error when the engine does not
// control the clock (-x).
var ErrNoClockControl = errors.New("the daemon does not control the system clock (it runs with -x), so it cannot step it")

// MakeStep steps the system clock at once by the correction the servo
// still has to slew, as chronyc makestep does: afterwards the clock
// reads the engine's best estimate of true time. It returns the step
// (positive: the clock moved forward), 0 when nothing was pending.
func (e *Engine) MakeStep() (time.Duration, error) {
	if !e.cfg.ClockControl {
		return 0, ErrNoClockControl
	}
	if e.err != nil {
		return 0, e.err
	}
	now := e.applyTime(e.clk.Now().Round(0))
	act := e.servo.StepNow(now, e.nextEvent(now))
	if act.Step != 0 {
		e.reframe(e.cooked(now), act)
		e.ref.raw = e.ref.raw.Add(act.Step)
		e.prevRef.raw = e.prevRef.raw.Add(act.Step)
		e.log.Info("clock stepped (makestep)", "step", act.Step)
	}
	e.apply(act)
	e.pushStatus()
	return act.Step, nil
}

// maxBurst bounds a burst's requests: at 2 s apart, two minutes.
const maxBurst = 64

// Burst makes every source that match accepts (by its configured name
// and address) poll in a burst, as chronyc burst does: requests 2 s
// apart, starting now, until good good samples came or total requests
// went; then the source polls as before. A source without an address or
// refused by a Kiss-o'-Death is left out. It returns how many sources
// burst.
func (e *Engine) Burst(good, total int, match func(name string, addr netip.Addr) bool) (int, error) {
	switch {
	case total < 1 || total > maxBurst:
		return 0, errors.New("a burst is 1 to 64 requests")
	case good < 0 || good > total:
		return 0, errors.New("a burst's good samples must be between 0 and its requests")
	}
	now := e.clk.Now().Round(0)
	n := 0
	for _, s := range e.sources {
		if s.stopped || !s.addr.IsValid() || match != nil && !match(s.name, s.addr.Addr().Unmap()) {
			continue
		}
		s.burstTotal, s.burstGood, s.burstMode = total, good, true
		s.presendDone = 0
		s.nextPoll = now
		n++
	}
	return n, nil
}
