package upstream

import (
	"math"
	"slices"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/discipline"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// This file is the clock update: combining the survivors, the leap
// vote, the servo, re-expressing stored measurements after a correction,
// the reference the server serves, and the kernel status.

// update combines the selected source with the others in combined,
// feeds the servo and records the new reference. surv are all the
// survivors of the selection: they vote on leap seconds.
func (e *Engine) update(raw time.Time, now float64, combined, surv []*source) {
	if e.err != nil {
		return
	}
	var sw, so, sf, sfw float64
	for _, s := range combined {
		w := 1 / max(s.sel.distance, 1e-9)
		so += w * s.sel.offset
		sw += w
		skew := max(s.sel.skew, 1e-6)
		sf += s.sel.freq / (skew * skew)
		sfw += 1 / (skew * skew)
	}
	est := discipline.Estimate{Offset: so / sw, Freq: sf / sfw, Skew: math.Sqrt(1 / sfw)}
	freqBefore, jumping := e.servo.Frequency(), false
	for _, s := range combined {
		if s.jumpOK {
			// A frequency jump: our own frequency is no longer known
			// better than the jump (ntpbox's; chrony's skew only moves
			// by the gain), so the new estimate gets its weight and
			// the bound grows at the jump's rate until it is learnt.
			e.servo.Widen(math.Abs(s.jumpRate) * 1e6)
			jumping = jumping || s.goodRx > skewPollSamples
		}
	}

	at := e.applyTime(raw)
	act := e.servo.Update(at, est, e.nextEvent(at))
	switch {
	case act.Fatal != nil:
		e.err = act.Fatal
		e.log.Error("maxchange: giving up; the clock is no longer adjusted", "offset", durationOf(est.Offset), "err", act.Fatal)
		e.apply(act)
		e.synced = false
		e.selected = nil
		e.unsyncedSince = now
		e.pushStatus()
		e.recordUnsync(raw)
		return
	case act.Ignored:
		e.log.Warn("maxchange: ignoring a large adjustment", "offset", durationOf(est.Offset))
		return
	}
	e.log.Debug("clock update", "offset", durationOf(est.Offset), "freq_ppm", est.Freq, "skew_ppm", est.Skew,
		"dfreq_ppm", act.DFreq, "doffset", durationOf(act.DOffset), "step", act.Step)
	e.reframe(now, act)
	e.apply(act)
	if act.Step != 0 {
		e.log.Info("clock stepped", "step", act.Step)
	}

	b := e.selected
	n := b.stats.newest()
	after := now + act.DOffset
	prevInterval := e.interval
	if e.synced || e.everSynced {
		e.interval = after - e.ref.at
	}
	// chrony's root dispersion (SST_GetTrackingData): the source's,
	// the sample's own, the source's skew over the sample's age and the
	// standard deviation of the estimate. The offset found is not added:
	// what the servo has yet to correct is in the served (cooked) time,
	// not an error of it, and a step is not one either.
	e.prevRef = e.ref
	e.ref = reference{
		raw:       raw.Add(act.Step),
		served:    e.epoch.Add(durationOf(after)),
		at:        after,
		stratum:   b.stratum,
		refID:     b.refID,
		name:      b.name,
		rootDelay: n.rootDelay + n.delay,
		rootDisp:  n.rootDisp + n.disp + b.stats.skew*max(now-n.t, 0) + b.sel.sd,
	}
	e.learnJump(after, freqBefore, jumping, combined)
	e.leap = leapVote(surv, e.ref.raw)
	if e.leap == wire.LeapNone && e.leapTZ != nil {
		// leapsectz: the zone's table when the sources say nothing
		// (chrony's update_leap_status).
		e.leap = e.leapTZ.leapAt(e.ref.served)
	}
	e.lastOffset = est.Offset
	switch {
	case act.Step != 0: // a step is not a tracking error
	case e.rmsKnown:
		e.rmsOffset = math.Sqrt(0.9*e.rmsOffset*e.rmsOffset + 0.1*est.Offset*est.Offset)
	default:
		e.rmsOffset, e.rmsKnown = math.Abs(est.Offset), true
	}
	e.residual = est.Freq - act.DFreq
	if !e.synced {
		e.log.Info("synchronised", "source", b.name, "stratum", b.stratum+1, "offset", durationOf(est.Offset))
	}
	e.synced, e.everSynced = true, true
	if act.Step == 0 {
		e.fbUpdate(after, e.interval, prevInterval)
	}
	if l := e.cfg.Local; l != nil && l.Activate > 0 && e.rootDistance(e.ref.raw) < l.Activate {
		e.activated = true
	}
	e.pushStatus()
	e.recordUpdate(e.ref.raw, est.Offset)
}

// reframe re-expresses everything measured against the cooked clock
// after it moved by act.DOffset and its rate by act.DFreq at cooked time
// now, and shifts system clock times by a step.
func (e *Engine) reframe(now float64, act discipline.Action) {
	step := act.Step
	for _, s := range e.sources {
		s.stats.adjust(now, act.DOffset, act.DFreq)
		s.filterAdjust(now, act.DOffset, act.DFreq)
		s.il.localRx.reframe(e, now, act)
		s.il.prevTx.reframe(e, now, act)
		// The request's time after its reply too: interleaved mode
		// keeps it (keepTimestamps).
		if s.xmt != 0 {
			t1 := e.sec(s.t1) + s.p1
			s.p1 += act.DOffset + act.DFreq*1e-6*(t1-now) - step.Seconds()
			s.t1 = s.t1.Add(step)
		}
		if !math.IsNaN(s.lastRx) {
			s.lastRx += act.DOffset
		}
		if step != 0 {
			s.nextPoll = s.nextPoll.Add(step)
			if !s.lastTx.IsZero() {
				s.lastTx = s.lastTx.Add(step)
			}
		}
	}
	e.unsyncedSince += act.DOffset
}

// leapVote is chrony's: a leap second is announced when more than half
// of the survivors announce it. Linux inserts or deletes it at the end
// of the current UTC day, so it is passed on only on 30 June and
// 31 December (chrony's is_leap_second_day: the days the IERS uses; a
// source announcing one at the end of another month is wrong), never
// weeks early.
func leapVote(surv []*source, now time.Time) wire.Leap {
	var ins, del int
	for _, s := range surv {
		switch s.leap {
		case wire.LeapInsert:
			ins++
		case wire.LeapDelete:
			del++
		}
	}
	if !leapDay(now) {
		return wire.LeapNone
	}
	switch {
	case 2*ins > len(surv):
		return wire.LeapInsert
	case 2*del > len(surv):
		return wire.LeapDelete
	}
	return wire.LeapNone
}

func leapDay(t time.Time) bool {
	u := t.UTC()
	return u.Month() == time.June && u.Day() == 30 || u.Month() == time.December && u.Day() == 31
}

// rootDistance is the served root distance at system clock time raw:
// half the root delay plus the root dispersion grown since the update.
func (e *Engine) rootDistance(raw time.Time) float64 {
	return e.ref.rootDelay/2 + e.rootDispAt(raw)
}

// rootDispAt is the root dispersion at system clock time raw: the
// update's, grown at dispRate since then (chrony's get_root_dispersion).
func (e *Engine) rootDispAt(raw time.Time) float64 {
	return e.ref.rootDisp + e.dispRate()*math.Abs(raw.Sub(e.ref.raw).Seconds())
}

// dispRate is how fast the root dispersion grows between updates, in
// seconds per second: the skew of our frequency, the residual frequency
// the last update left uncorrected and maxclockerror (chrony's), not a
// fixed 15 ppm. A step or a frequency jump widens the skew (see
// discipline), so the bound after one grows faster; and a box whose
// oscillator has jumped keeps a faster rate for hours (wanderAt).
func (e *Engine) dispRate() float64 {
	return (e.servo.Skew() + math.Abs(e.servo.Residual()) + e.cfg.Tuning.MaxClockError + e.wanderAt(e.ref.at)) * 1e-6
}

// wanderTau is how long a frequency jump of our oscillator is
// remembered: the time constant of wanderAt's decay. wanderSettle is
// how long after a jump learnJump stops waiting for a frequency that no
// jumped source disturbs any more to become known.
const (
	wanderTau    = 12 * 3600.0 // s
	wanderSettle = 2 * 3600.0  // s
)

// learnJump remembers how far our frequency jumped (see wanderAt), at
// cooked time now, after an update that started from frequency
// freqBefore (ppm); jumping: a combined source past its start-up
// (skewPollSamples) had a confirmed jump. The jump is measured as what
// the discipline learnt, the frequency once no combined source is
// jumped any more against the frequency before the first jumped update,
// not as a jumped sample's rate: a step of the time (our clock stepped
// from outside, a VM resumed, the only source stepping) jumps samples
// too, but leaves the frequency where it was. It counts once that
// change is known (our skew at most a third of it) and is more than
// maxclockerror. It waits while any combined source is still jumped, or
// no update comes (holdover), however long; once none is jumped, it is
// dropped if our skew is under maxclockerror without the change being
// known (a small jump can be lost so), or if wanderSettle has passed
// since the jump.
func (e *Engine) learnJump(now, freqBefore float64, jumping bool, combined []*source) {
	if jumping && !e.jumpPending {
		e.jumpPending, e.jumpFreq, e.jumpAt = true, freqBefore, now
		return
	}
	if !e.jumpPending || slices.ContainsFunc(combined, func(s *source) bool { return s.jumped }) {
		return
	}
	df, skew := math.Abs(e.servo.Frequency()-e.jumpFreq), e.servo.Skew()
	switch {
	case skew <= df/3:
		if df > e.cfg.Tuning.MaxClockError {
			e.noteWander(now, min(df, maxJumpRate*1e6))
		}
	case skew < e.cfg.Tuning.MaxClockError || now-e.jumpAt > wanderSettle:
	default:
		return // not known yet
	}
	e.jumpPending = false
}

// noteWander remembers a frequency jump of ppm at cooked time now.
func (e *Engine) noteWander(now, ppm float64) {
	if ppm > e.wanderAt(now) {
		e.wander, e.wanderT = ppm, now
		e.log.Info("our frequency jumped: the served bound grows faster for hours", "jump_ppm", ppm)
	}
}

// wanderAt is the frequency jump an oscillator that has jumped may
// make again, at cooked time now (ppm): the largest jump learnt,
// decaying with time constant wanderTau. maxclockerror is the
// stability of a quiet oscillator; one that has once jumped by 20 ppm
// (a VM moved to another host, a fan stopped) may do it again, and
// nothing sees the next jump until a poll, up to 1024 s later. Until
// then the served bound has to grow at the jump's rate to stay honest;
// once the jump is learnt, the skew's part of the rate is back to the
// quiet one, so without this the bound only covers the first jump's
// aftermath. dispRate takes it at the last update, so in holdover it
// stays at the rate of that update.
func (e *Engine) wanderAt(now float64) float64 {
	if e.wander == 0 {
		return 0
	}
	return e.wander * math.Exp(-math.Abs(now-e.wanderT)/wanderTau)
}

// pushStatus tells the kernel the synchronisation state: synchronised
// only with rtcsync (that is what lets Linux's 11-minute mode copy the
// time to the RTC), the leap second, and the error bounds.
func (e *Engine) pushStatus() {
	if !e.cfg.ClockControl {
		return
	}
	st := clock.Status{MaxError: 16 * time.Second, EstError: 16 * time.Second}
	if e.synced && e.err == nil {
		st.Synced = e.cfg.RTCSync
		st.Leap = clock.Leap(e.leap)
		st.MaxError = durationOf(e.rootDistance(e.clk.Now()))
		st.EstError = durationOf(math.Abs(e.lastOffset) + e.selectedSD())
	}
	e.setStatus(st)
}

func (e *Engine) selectedSD() float64 {
	if e.selected == nil {
		return 0
	}
	return e.selected.sel.sd
}

func (e *Engine) setStatus(st clock.Status) {
	if err := e.clk.SetStatus(st); err != nil {
		e.log.Error("set clock status", "err", err)
	}
}
