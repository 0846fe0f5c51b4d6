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
// own); Step jumps it. True time belongs to the World.
type Clock struct {
	w *World

	err     float64 // clock minus true time (s) at last
	last    float64 // true seconds
	freqErr float64 // ppm, positive: runs fast when uncorrected
	wander  float64 // ppm per √s
	corr    float64 // ppm, the correction in effect
	rng     *rand.Rand

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
}

// NewClock returns a clock of the world.
func (w *World) NewClock(cfg ClockConfig) *Clock {
	w.clocks++
	return &Clock{
		w:       w,
		err:     cfg.Offset.Seconds(),
		last:    w.t,
		freqErr: cfg.FreqErr,
		wander:  cfg.Wander,
		corr:    cfg.Correction,
		rng:     rand.New(rand.NewPCG(w.seed, 0xc10c+w.clocks-1)),
	}
}

// sync brings the clock to the world's true time.
func (c *Clock) sync() {
	dt := c.w.t - c.last
	if dt <= 0 {
		return
	}
	f0 := c.freqErr
	if c.wander > 0 {
		c.freqErr += c.wander * math.Sqrt(dt) * c.rng.NormFloat64()
	}
	// The error grows with the frequency averaged over the interval.
	c.err += ((f0+c.freqErr)/2 + c.corr) * 1e-6 * dt
	c.last = c.w.t
}

// rate is how much faster than true time the clock runs (s/s).
func (c *Clock) rate() float64 { return (c.freqErr + c.corr) * 1e-6 }

// Error returns the clock's error now: clock minus true time.
func (c *Clock) Error() time.Duration {
	c.sync()
	return time.Duration(math.Round(c.err * 1e9))
}

// ErrorSeconds is Error in seconds.
func (c *Clock) ErrorSeconds() float64 {
	c.sync()
	return c.err
}

// FreqError returns the oscillator's frequency error in ppm.
func (c *Clock) FreqError() float64 { return c.freqErr }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.sync()
	return c.w.base.Add(secondsToDuration(c.w.t + c.err))
}

// Step jumps the clock by d.
func (c *Clock) Step(d time.Duration) error {
	c.sync()
	c.err += d.Seconds()
	c.steps = append(c.steps, d)
	return nil
}

// SetFrequency sets the correction, clamped to ±500 ppm as Linux does.
// A positive correction makes the clock run faster.
func (c *Clock) SetFrequency(ppm float64) error {
	c.sync()
	c.corr = min(max(ppm, -clock.MaxFrequency), clock.MaxFrequency)
	c.freqSets++
	return nil
}

// Frequency returns the correction in effect.
func (c *Clock) Frequency() (float64, error) { return c.corr, nil }

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

func secondsToDuration(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
