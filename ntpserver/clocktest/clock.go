package clocktest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clock"
)

// Clock is a simulated system clock. Its error (clock minus true time)
// grows at its frequency error plus the correction set with
// SetFrequency (so a clock 100 ppm fast is corrected by -100 ppm); the
// frequency error wanders as a random walk (each clock of a world on its
// own), may step at given times (FreqSteps) and swing with the
// temperature (TempAmplitude); Step jumps it. True time belongs to the
// World.
//
// What Now returns may differ from the clock's error: each reading may
// carry a small random error (ReadNoise), and during a stall
// (StallRate) the clock does not advance. Error and ErrorSeconds are the
// clock's own error, without either.
type Clock struct {
	w *World

	err     float64 // clock minus true time (s) at last
	last    float64 // true seconds
	freqErr float64 // ppm, positive: runs fast when uncorrected; without the temperature term
	wander  float64 // ppm per √s
	corr    float64 // ppm, the correction in effect
	rng     *rand.Rand

	fsteps []FreqStep // still to come, in order of At
	temp   float64    // ppm amplitude
	tempP  float64    // s
	tempPh float64    // s

	noise    float64 // s, sd of a reading's error
	noiseRng *rand.Rand

	stallRate           float64 // per true second
	stallMin, stallMax  float64 // s
	stallRng            *rand.Rand
	stallFrom, stallTo  float64 // the current or next stall, true seconds
	frozen              float64 // error at stallFrom, once known
	frozenOK            bool
	stalls              int
	hz                  float64 // kernel ticks per second: rate changes wait for the next; 0: at once
	nextCorr, nextCorrT float64 // a correction set, taking effect at nextCorrT
	corrPending         bool

	status    clock.Status
	statusSet bool
	steps     []time.Duration
	freqSets  int
}

// ClockConfig describes a simulated clock.
type ClockConfig struct {
	Offset     time.Duration // initial error: clock minus true time
	FreqErr    float64       // ppm, positive: the clock runs fast uncorrected (real ones: ±100)
	Wander     float64       // ppm per √s random walk of FreqErr (e.g. 0.001)
	Correction float64       // frequency correction already in effect at start, ppm

	// FreqSteps change the oscillator's frequency error at given true
	// times, as a VM migrating to another host or a heater switching on
	// does. They add to FreqErr for good.
	FreqSteps []FreqStep
	// TempAmplitude and TempPeriod add a temperature cycle to the
	// frequency error: TempAmplitude·sin(2π(t+TempPhase)/TempPeriod) ppm
	// at true time t (s since the world's start). A crystal in a room
	// whose temperature follows the day: ±5 ppm over 24 h at most.
	TempAmplitude float64
	TempPeriod    time.Duration
	TempPhase     time.Duration

	// ReadNoise is the standard deviation of a normal error that each
	// reading (Now) carries on its own, as the latency between an event
	// and the kernel's timestamp gives: 1–20 µs. It does not change the
	// clock itself.
	ReadNoise time.Duration

	// StallRate is how many times per hour of true time, on average
	// (Poisson), the clock stops for a time uniform in [StallMin,
	// StallMax], as a QEMU TCG guest's clock does while the host does
	// not schedule its vCPU: readings in a stall return the time at its
	// start, and at its end the clock jumps forward to where it would
	// have been.
	StallRate          float64
	StallMin, StallMax time.Duration

	// KernelHZ, when set, makes frequency changes take effect at the
	// next kernel tick (1/KernelHZ s of true time), not at the instant
	// of SetFrequency, as Linux's timekeeping applies a new tick length
	// at its next accumulation: a fast slew ended by SetFrequency runs
	// on up to a tick longer.
	KernelHZ int
}

// FreqStep is a step of an oscillator's frequency error: PPM more
// (positive: faster) from true time At on (seconds since the world's
// start).
type FreqStep struct {
	At  float64
	PPM float64
}

// NewClock returns a clock of the world.
func (w *World) NewClock(cfg ClockConfig) *Clock {
	w.clocks++
	k := w.clocks - 1
	c := &Clock{
		w:       w,
		err:     cfg.Offset.Seconds(),
		last:    w.t,
		freqErr: cfg.FreqErr,
		wander:  cfg.Wander,
		corr:    cfg.Correction,
		rng:     rand.New(rand.NewPCG(w.seed, 0xc10c+k)),
		temp:    cfg.TempAmplitude,
		tempP:   cfg.TempPeriod.Seconds(),
		tempPh:  cfg.TempPhase.Seconds(),
		noise:   cfg.ReadNoise.Seconds(),
		hz:      float64(cfg.KernelHZ),
	}
	if c.tempP <= 0 {
		c.temp = 0
	}
	c.fsteps = append(c.fsteps, cfg.FreqSteps...)
	sortSteps(c.fsteps)
	if c.noise > 0 {
		c.noiseRng = rand.New(rand.NewPCG(w.seed, 0x4015e+k))
	}
	if cfg.StallRate > 0 {
		c.stallRate = cfg.StallRate / 3600
		c.stallMin, c.stallMax = cfg.StallMin.Seconds(), max(cfg.StallMax, cfg.StallMin).Seconds()
		c.stallRng = rand.New(rand.NewPCG(w.seed, 0x57a11+k))
		c.stallTo = w.t
		c.nextStall()
	}
	return c
}

func sortSteps(s []FreqStep) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].At < s[j-1].At; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// nextStall draws the stall after the one that ends at stallTo.
func (c *Clock) nextStall() {
	c.stallFrom = c.stallTo + c.stallRng.ExpFloat64()/c.stallRate
	c.stallTo = c.stallFrom + c.stallMin + c.stallRng.Float64()*(c.stallMax-c.stallMin)
	c.frozenOK = false
}

// sync brings the clock to the world's true time, integrating the
// frequency error exactly over the interval: the random walk's as a
// straight line between its ends, the steps from their instants, the
// temperature sine as its integral, and a correction that a kernel tick
// delays from the instant it takes effect.
func (c *Clock) sync() {
	t := c.w.t
	dt := t - c.last
	if dt <= 0 {
		return
	}
	f0 := c.freqErr
	if c.wander > 0 {
		c.freqErr += c.wander * math.Sqrt(dt) * c.rng.NormFloat64()
	}
	// The error grows with the frequency averaged over the interval.
	c.err += (f0 + c.freqErr) / 2 * 1e-6 * dt
	for len(c.fsteps) > 0 && c.fsteps[0].At <= t {
		s := c.fsteps[0]
		c.fsteps = c.fsteps[1:]
		c.freqErr += s.PPM
		c.err += s.PPM * 1e-6 * (t - max(s.At, c.last))
	}
	if c.temp != 0 {
		w := 2 * math.Pi / c.tempP
		c.err += c.temp * 1e-6 / w * (math.Cos(w*(c.last+c.tempPh)) - math.Cos(w*(t+c.tempPh)))
	}
	if c.corrPending && c.nextCorrT <= t {
		at := max(c.nextCorrT, c.last)
		c.err += c.corr*1e-6*(at-c.last) + c.nextCorr*1e-6*(t-at)
		c.corr, c.corrPending = c.nextCorr, false
	} else {
		c.err += c.corr * 1e-6 * dt
	}
	c.last = t
}

// tempPPM is the temperature term of the frequency error at true time t.
func (c *Clock) tempPPM(t float64) float64 {
	if c.temp == 0 {
		return 0
	}
	return c.temp * math.Sin(2*math.Pi*(t+c.tempPh)/c.tempP)
}

// rate is how much faster than true time the clock runs (s/s).
func (c *Clock) rate() float64 {
	return (c.freqErr + c.tempPPM(c.w.t) + c.corr) * 1e-6
}

// Error returns the clock's error now: clock minus true time. It is
// the error the clock has outside stalls, without reading noise.
func (c *Clock) Error() time.Duration {
	c.sync()
	return time.Duration(math.Round(c.err * 1e9))
}

// ErrorSeconds is Error in seconds.
func (c *Clock) ErrorSeconds() float64 {
	c.sync()
	return c.err
}

// FreqError returns the oscillator's frequency error in ppm now: the
// initial one, its wander, the steps so far and the temperature term.
func (c *Clock) FreqError() float64 {
	f := c.freqErr + c.tempPPM(c.w.t)
	for _, s := range c.fsteps {
		if s.At <= c.w.t {
			f += s.PPM
		}
	}
	return f
}

// Now reads the clock: during a stall, the time at which it stopped;
// with ReadNoise, plus a random error of its own.
func (c *Clock) Now() time.Time {
	e := c.readError()
	if c.noise > 0 {
		e += c.noise * c.noiseRng.NormFloat64()
	}
	return c.w.base.Add(secondsToDuration(c.w.t + e))
}

// exactNow is the clock's time without stall or noise: the simulator's
// own arithmetic (when a poll is due) uses it.
func (c *Clock) exactNow() time.Time {
	c.sync()
	return c.w.base.Add(secondsToDuration(c.w.t + c.err))
}

// readError is what a reading now is off true time, stalls included.
func (c *Clock) readError() float64 {
	c.sync()
	if c.stallRate <= 0 {
		return c.err
	}
	t := c.w.t
	for c.stallTo <= t {
		c.nextStall()
	}
	if t < c.stallFrom {
		return c.err
	}
	if !c.frozenOK {
		// The error at the stall's start: the clock has run at about
		// its current rate since.
		c.frozen, c.frozenOK = c.err-c.rate()*(t-c.stallFrom), true
		c.stalls++
	}
	// The reading is frozen at stallFrom + frozen.
	return c.stallFrom + c.frozen - t
}

// Stalled reports whether the clock is in a stall now.
func (c *Clock) Stalled() bool {
	if c.stallRate <= 0 {
		return false
	}
	c.readError()
	return c.w.t >= c.stallFrom && c.w.t < c.stallTo
}

// Stalls counts the stalls in which the clock was read.
func (c *Clock) Stalls() int { return c.stalls }

// Step jumps the clock by d. (In a stall, the frozen reading jumps too.)
func (c *Clock) Step(d time.Duration) error {
	c.sync()
	c.err += d.Seconds()
	c.frozen += d.Seconds()
	c.steps = append(c.steps, d)
	return nil
}

// SetFrequency sets the correction, clamped to ±500 ppm as Linux does.
// A positive correction makes the clock run faster.
func (c *Clock) SetFrequency(ppm float64) error {
	c.setCorrection(min(max(ppm, -clock.MaxFrequency), clock.MaxFrequency))
	return nil
}

// setCorrection puts ppm into effect now, or at the next kernel tick.
func (c *Clock) setCorrection(ppm float64) {
	c.sync()
	c.freqSets++
	if c.hz <= 0 {
		c.corr, c.corrPending = ppm, false
		return
	}
	t := c.w.t
	if c.corrPending && c.nextCorrT <= t {
		c.corr = c.nextCorr
	}
	c.nextCorr, c.corrPending = ppm, true
	c.nextCorrT = (math.Floor(t*c.hz) + 1) / c.hz
}

// Frequency returns the correction in effect (the last one set, even
// if a kernel tick has yet to apply it, as adjtimex reports it).
func (c *Clock) Frequency() (float64, error) {
	if c.corrPending {
		return c.nextCorr, nil
	}
	return c.corr, nil
}

// SetStatus records the status.
func (c *Clock) SetStatus(s clock.Status) error {
	c.status, c.statusSet = s, true
	return nil
}

// Status returns the last status set, and whether one was.
func (c *Clock) Status() (clock.Status, bool) { return c.status, c.statusSet }

// Steps returns the steps made, in order.
func (c *Clock) Steps() []time.Duration { return append([]time.Duration(nil), c.steps...) }

// FrequencySets counts SetFrequency calls.
func (c *Clock) FrequencySets() int { return c.freqSets }

// Linux returns the clock as the engine sees a Linux system clock: a
// clock.FastSlewer that takes corrections up to clock.MaxSlewRate (the
// 83333 ppm chrony allows itself) and sets them as the kernel does
// (clock/clock_linux.go: frequencyTimex): whole multiples of 100 ppm as
// a longer or shorter tick of USER_HZ 100 (adjtimex ADJ_TICK, which
// Linux limits to ±10%: 100000 ppm), the rest as ADJ_FREQUENCY in units
// of 2⁻¹⁶ ppm (limited to ±500 ppm). The engine does not use ADJ_OFFSET
// (the kernel PLL, whose offsets Linux clamps to ±0.5 s, slewed at most
// 500 ppm), so it is not modelled; steps (ADJ_SETOFFSET) are exact.
// With ClockConfig.KernelHZ the corrections also wait for a tick.
func (c *Clock) Linux() *LinuxClock { return &LinuxClock{c} }

// LinuxClock is a Clock that slews as a Linux kernel does: see
// Clock.Linux.
type LinuxClock struct{ *Clock }

// Linux's limits on adjtimex(2): the tick may be set within ±10% of
// its nominal 10000 µs (USER_HZ 100, so 1 µs is 100 ppm), the
// frequency within ±500 ppm in units of 2⁻¹⁶ ppm.
const (
	linuxNominalTick = 10000
	linuxPPMPerTick  = 1e6 / linuxNominalTick
	linuxMaxTickAdj  = linuxNominalTick / 10
)

// MaxSlewRate is clock.MaxSlewRate, as for the real Linux clock.
func (l *LinuxClock) MaxSlewRate() float64 { return clock.MaxSlewRate }

// SetFrequency sets the correction as tick plus frequency, capped and
// quantised as Linux does.
func (l *LinuxClock) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) {
		ppm = 0
	}
	ppm = min(max(ppm, -clock.MaxSlewRate), clock.MaxSlewRate)
	ticks := math.Round(ppm / linuxPPMPerTick)
	ticks = min(max(ticks, -linuxMaxTickAdj), linuxMaxTickAdj)
	freq := math.Round((ppm-ticks*linuxPPMPerTick)*65536) / 65536
	freq = min(max(freq, -clock.MaxFrequency), clock.MaxFrequency)
	l.setCorrection(ticks*linuxPPMPerTick + freq)
	return nil
}

func secondsToDuration(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
