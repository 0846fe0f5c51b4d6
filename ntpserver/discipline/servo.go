package discipline

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config is the servo's configuration. Zero values of the tuning fields
// select the defaults.
type Config struct {
	// StepThreshold and StepLimit are `makestep`: step when the pending
	// correction exceeds StepThreshold seconds, in the first StepLimit
	// updates (-1: always). StepLimit 0 never steps.
	StepThreshold float64
	StepLimit     int

	// MaxChange is `maxchange OFFSET START IGNORE`; nil disables the check.
	MaxChange *MaxChange

	// InitialFrequency is the frequency correction to start from (ppm,
	// clock.Clock convention), with InitialSkew its uncertainty (ppm).
	InitialFrequency float64
	InitialSkew      float64

	// Control is false under -x: the servo still tracks the clock's error
	// (the cooked clock) but assumes none of its Actions take effect, and
	// KernelFrequency is the correction the kernel keeps applying.
	Control         bool
	KernelFrequency float64

	MaxFrequency float64 // ppm, default 500 (Linux's limit)
	// MaxSlewRate bounds the frequency plus the temporary slew, in ppm
	// (chrony's maxslewrate); default and minimum MaxFrequency. A clock
	// that can go faster (clock.FastSlewer) sets it higher, so that an
	// offset below the makestep threshold is gone in seconds.
	MaxSlewRate   float64
	MaxUpdateSkew float64 // ppm; frequency estimates less certain are not used. Default 1000 (chrony)
	CorrTimeRatio float64 // slew duration / update interval, default 1
}

// MaxChange is chrony's `maxchange`.
type MaxChange struct {
	Offset float64 // seconds
	Start  int     // updates before the check starts
	Ignore int     // large offsets ignored before giving up; -1: ignore forever
}

// Estimate is what the source selection says about the clock.
type Estimate struct {
	Offset float64 // seconds: true time minus cooked clock; positive: the clock is behind
	Freq   float64 // ppm: residual frequency of true time against the cooked clock
	Skew   float64 // ppm: standard error of Freq
}

// Action is what the caller must do after Update or Advance.
type Action struct {
	// Step, when non-zero, moves the clock by Step (positive: forward).
	// Apply it before SetFrequency.
	Step time.Duration
	// SetFreq asks for clock.SetFrequency(Frequency).
	SetFreq   bool
	Frequency float64

	// DOffset and DFreq describe how the cooked clock moved at the update
	// (seconds and ppm): stored measurements of "true minus cooked"
	// become offset - DOffset - DFreq·1e-6·(t - now).
	DOffset float64
	DFreq   float64

	Ignored bool  // maxchange: this update was ignored
	Fatal   error // maxchange: the servo gave up and stopped adjusting
}

// ErrGaveUp is wrapped by the error the servo returns when maxchange
// makes it give up.
var ErrGaveUp = errors.New("maxchange exceeded")

// Servo is the clock discipline. It is not safe for concurrent use.
type Servo struct {
	cfg   Config
	epoch time.Time

	t0         float64 // raw seconds since epoch at which pending is valid
	pending    float64 // seconds: cooked minus system clock at t0
	freq       float64 // base correction, ppm
	applied    float64 // correction in effect on the clock, ppm
	skew       float64 // ppm, standard error of freq (chrony's our_skew)
	residual   float64 // ppm, the measured frequency the last update left out (chrony's our_residual_freq)
	slewEnd    float64 // raw seconds when the current slew should be done
	lastUpdate float64
	updates    int
	stepsLeft  int
	ignores    int
	fatal      error
	// hist holds the recent past of the pending correction, newest
	// last: Pending at a time before t0 (a packet's receive timestamp,
	// read before a later re-plan) is computed from the rate that was in
	// effect then, not extrapolated back with today's. A fast slew
	// changes the rate by up to 83333 ppm; extrapolating it across half a
	// second would be 40 ms wrong.
	hist []segment
}

// segment is one stretch of constant slew: from raw time t0 the pending
// correction was pending and changed at rate ppm.
type segment struct {
	t0, pending, rate float64
}

// minSkew is chrony's MIN_SKEW, in ppm.
const minSkew = 1e-6

// histLen bounds the history: re-plans come about once a second, and a
// packet is never handled more than a few seconds after it arrived.
const histLen = 32

// New returns a servo started at now.
func New(cfg Config, now time.Time) *Servo {
	if cfg.MaxFrequency <= 0 {
		cfg.MaxFrequency = 500
	}
	if cfg.MaxSlewRate <= 0 {
		cfg.MaxSlewRate = cfg.MaxFrequency
	}
	if cfg.MaxUpdateSkew <= 0 {
		cfg.MaxUpdateSkew = 1000
	}
	if cfg.CorrTimeRatio <= 0 {
		cfg.CorrTimeRatio = 1
	}
	if cfg.InitialSkew <= 0 {
		cfg.InitialSkew = cfg.MaxFrequency
	}
	s := &Servo{cfg: cfg, epoch: now.Round(0), lastUpdate: math.NaN()}
	s.freq = s.clampFreq(cfg.InitialFrequency)
	s.skew = cfg.InitialSkew
	s.applied = s.freq
	if !cfg.Control {
		s.applied = cfg.KernelFrequency
	}
	s.stepsLeft = cfg.StepLimit
	if cfg.MaxChange != nil {
		s.ignores = cfg.MaxChange.Ignore
	}
	return s
}

func (s *Servo) sec(t time.Time) float64 { return t.Sub(s.epoch).Seconds() }

// settle brings the pending correction forward to raw time t. The servo
// never goes back in time: a t before the last change counts as that
// change's time, since the clock already runs as then decided.
func (s *Servo) settle(t float64) {
	if t <= s.t0 {
		return
	}
	s.pending += s.rate() * 1e-6 * (t - s.t0)
	s.t0 = t
}

// rate is how fast the pending correction changes, in ppm of system
// clock time: the clock runs at 1+applied against the oscillator, the
// cooked clock at 1+freq, so per second of the system clock the gap
// closes by (freq-applied)/(1+applied). The division matters for a fast
// slew: at 83333 ppm, leaving it out books 7.7% more correction than the
// clock made.
func (s *Servo) rate() float64 {
	return (s.freq - s.applied) / (1 + s.applied*1e-6)
}

// record remembers the current segment after a change of the pending
// correction or of its rate.
func (s *Servo) record() {
	seg := segment{s.t0, s.pending, s.rate()}
	if n := len(s.hist); n > 0 && s.hist[n-1].t0 == seg.t0 {
		s.hist[n-1] = seg
		return
	}
	if len(s.hist) == histLen {
		copy(s.hist, s.hist[1:])
		s.hist = s.hist[:histLen-1]
	}
	s.hist = append(s.hist, seg)
}

// Pending returns the cooked clock minus the system clock at now, in
// seconds: add it to a clock reading to get the servo's best estimate of
// true time. For a time before the last change it uses the rate in
// effect at that time.
func (s *Servo) Pending(now time.Time) float64 {
	t := s.sec(now)
	if t < s.t0 {
		for i := len(s.hist) - 1; i >= 0; i-- {
			if h := s.hist[i]; h.t0 <= t {
				return h.pending + h.rate*1e-6*(t-h.t0)
			}
		}
	}
	return s.pending + s.rate()*1e-6*(t-s.t0)
}

// Frequency returns the base frequency correction in ppm (clock.Clock
// convention), without the temporary slew.
func (s *Servo) Frequency() float64 { return s.freq }

// SetFrequency makes f (within maxdrift) the base frequency, as a
// fallback drift does, and returns the change; the next Advance applies
// it.
func (s *Servo) SetFrequency(f float64) float64 {
	f = s.clampFreq(f)
	df := f - s.freq
	s.freq = f
	return df
}

// Applied returns the correction currently asked of the clock, in ppm.
func (s *Servo) Applied() float64 { return s.applied }

// Skew returns the standard error of Frequency, in ppm.
func (s *Servo) Skew() float64 { return s.skew }

// Widen makes the skew at least skew ppm: the clock's frequency was
// seen to jump by about that much.
func (s *Servo) Widen(skew float64) {
	if !math.IsNaN(skew) {
		s.skew = min(max(s.skew, skew), s.cfg.MaxFrequency)
	}
}

// Residual returns the residual frequency of the last update in ppm: the
// part of the measured frequency error the update did not correct.
func (s *Servo) Residual() float64 { return s.residual }

// Correction returns the cooked clock minus the system clock at now (as
// Pending) and the rate at which it changes, in seconds per second of
// the system clock, until the servo next re-plans: served time is
// now + pending + rate·(t - now) at system time t.
func (s *Servo) Correction(now time.Time) (pending, rate float64) {
	t := s.sec(now)
	if t < s.t0 {
		return s.Pending(now), 0
	}
	return s.Pending(now), s.rate() * 1e-6
}

// Updates returns the number of accepted clock updates.
func (s *Servo) Updates() int { return s.updates }

// Err returns the error that made the servo give up, or nil.
func (s *Servo) Err() error { return s.fatal }

// Update applies an estimate taken at raw clock time now. next is the
// raw time of the caller's next scheduled event (the earliest poll); the
// slew is planned so that it does not overshoot before then.
func (s *Servo) Update(now time.Time, e Estimate, next time.Time) Action {
	t := s.sec(now)
	s.settle(t)
	t = max(t, s.t0) // the correction takes effect now, not in the past
	if s.fatal != nil {
		return Action{Fatal: s.fatal}
	}
	if math.IsNaN(e.Offset) || math.IsInf(e.Offset, 0) {
		return Action{Ignored: true}
	}
	if mc := s.cfg.MaxChange; mc != nil && s.updates >= mc.Start && math.Abs(e.Offset) > mc.Offset {
		if s.ignores != 0 {
			if s.ignores > 0 {
				s.ignores--
			}
			return Action{Ignored: true}
		}
		s.fatal = fmt.Errorf("adjustment of %.3f s exceeds the allowed maximum of %.3f s: %w", e.Offset, mc.Offset, ErrGaveUp)
		a := s.stopSlew()
		a.Fatal = s.fatal
		return a
	}
	s.updates++

	var a Action
	interval := t - s.lastUpdate
	if math.IsNaN(interval) || interval < 0 {
		interval = 0
	}
	a.DFreq = s.updateFrequency(e)

	// The cooked clock moves by the offset and its rate by DFreq; the
	// caller re-expresses what it stored in the new frame, and the
	// history must say the same of the past, or a packet received before
	// this update and handled after it is measured half in each frame.
	for i := range s.hist {
		h := &s.hist[i]
		h.pending += e.Offset + a.DFreq*1e-6*(h.t0-t)
		h.rate += a.DFreq
	}
	s.pending += e.Offset
	s.record()
	a.DOffset = e.Offset
	if s.stepAllowed() && math.Abs(s.pending) > s.cfg.StepThreshold && s.cfg.Control {
		a.Step = secondsToDuration(s.pending)
		// The system clock reads Step later from now on: times from
		// before the step are on another axis, and the history goes.
		t = max(t, s.t0) + a.Step.Seconds()
		s.t0 = t
		s.pending -= a.Step.Seconds()
		s.hist = s.hist[:0]
	}
	s.lastUpdate = t
	s.slewEnd = t + s.cfg.CorrTimeRatio*max(interval, 1)
	nextSec := s.sec(next) + a.Step.Seconds()
	a.SetFreq, a.Frequency = s.plan(t, nextSec)
	return a
}

// updateFrequency blends the measured residual frequency into the base
// frequency as chrony's get_clock_estimates does, and returns the change.
// The gain weighs the skew we expected (our own) against the measured
// one; the new skew moves towards the measured one by the gain and adds
// the extra skew of the jump itself, so that after a step or a frequency
// change the skew (and with it the served bound) widens rather than only
// ever shrinking. What the gain leaves out is the residual frequency,
// which the served root dispersion grows with.
func (s *Servo) updateFrequency(e Estimate) float64 {
	if math.IsNaN(e.Freq) || math.IsNaN(e.Skew) {
		return 0
	}
	expected := s.skew
	gain := 0.0
	if math.Abs(e.Skew) <= s.cfg.MaxUpdateSkew {
		gain = 3 * expected * expected / (3*expected*expected + e.Skew*e.Skew)
	}
	gain = min(max(gain, 0), 1)
	est := gain * e.Freq
	resid := e.Freq - est
	extra := math.Sqrt(est*est*(1-gain) + resid*resid*gain)
	s.skew = max(expected+gain*(e.Skew-expected)+extra, minSkew)
	s.residual = resid
	f := s.clampFreq(s.freq + est)
	df := f - s.freq
	s.freq = f
	return df
}

// stepAllowed implements makestep's limit: it is consumed by every
// update, as in chrony.
func (s *Servo) stepAllowed() bool {
	if s.stepsLeft == 0 {
		return false
	}
	if s.stepsLeft > 0 {
		s.stepsLeft--
	}
	return true
}

// Advance reports that raw clock time now has been reached and that the
// caller's next event is at next. It re-plans the slew; the Action may
// ask for a new frequency.
func (s *Servo) Advance(now, next time.Time) Action {
	t := s.sec(now)
	s.settle(t)
	t = max(t, s.t0)
	if s.fatal != nil {
		return Action{}
	}
	var a Action
	a.SetFreq, a.Frequency = s.plan(t, s.sec(next))
	return a
}

// plan chooses the slew rate at raw time t so that the pending correction
// is done by slewEnd, but not before the next event (when it will be
// planned again), and returns the frequency to apply.
func (s *Servo) plan(t, next float64) (bool, float64) {
	if !s.cfg.Control {
		return false, s.applied
	}
	T := max(s.slewEnd-max(t, s.t0), next-max(t, s.t0), 1)
	// The rate r (ppm of system time) that removes pending in T, and
	// the correction that gives it: r = (a-freq)/(1+a) (see rate).
	r := s.pending / T * 1e6
	a := (s.freq + r) / (1 - r*1e-6)
	if r*1e-6 >= 1 || math.IsNaN(a) {
		a = s.cfg.MaxSlewRate
	}
	a = min(max(a, -s.cfg.MaxSlewRate), s.cfg.MaxSlewRate)
	changed := a != s.applied
	s.applied = a
	s.record()
	return changed, a
}

// StepNow is makestep (chronyc's, not the directive): at raw time now
// it steps the clock by all of the correction still pending, so that
// the system clock reads the cooked time at once, and re-plans with the
// caller's next event at next. The cooked clock does not move (DOffset
// and DFreq are 0); times on the system clock's axis move by Step. It
// does nothing without clock control or after the servo gave up.
func (s *Servo) StepNow(now, next time.Time) Action {
	t := s.sec(now)
	s.settle(t)
	t = max(t, s.t0)
	if !s.cfg.Control || s.fatal != nil {
		return Action{}
	}
	var a Action
	a.Step = secondsToDuration(s.pending)
	t += a.Step.Seconds()
	s.t0 = t
	s.pending -= a.Step.Seconds()
	s.hist = s.hist[:0]
	s.slewEnd = t
	a.SetFreq, a.Frequency = s.plan(t, s.sec(next)+a.Step.Seconds())
	return a
}

// StopSlew ends the slew in progress (the daemon is stopping): the clock
// goes back to the base frequency, and what is left of the correction is
// dropped, not left running in the kernel.
func (s *Servo) StopSlew(now time.Time) Action {
	s.settle(s.sec(now))
	return s.stopSlew()
}

// stopSlew returns the clock to the base frequency.
func (s *Servo) stopSlew() Action {
	if !s.cfg.Control || s.applied == s.freq {
		return Action{}
	}
	s.applied = s.freq
	s.record()
	return Action{SetFreq: true, Frequency: s.freq}
}

func (s *Servo) clampFreq(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return min(max(f, -s.cfg.MaxFrequency), s.cfg.MaxFrequency)
}

func secondsToDuration(v float64) time.Duration {
	return time.Duration(math.Round(v * 1e9))
}
