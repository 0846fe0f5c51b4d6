package clock

import (
	"math"
	"sync"
	"time"
)

// NoControl is chronyd's -x: a clock that is read but never adjusted.
// Now reads the wrapped clock; Step, SetFrequency and SetStatus are
// recorded and do nothing; Frequency returns the last recorded value
// (initially the wrapped clock's own). It is safe for concurrent use.
type NoControl struct {
	c Clock

	mu        sync.Mutex
	freq      float64
	steps     []time.Duration
	status    Status
	statusSet bool
}

// NewNoControl wraps c. It reads c's frequency once, so that Frequency
// starts from the value the kernel really uses.
func NewNoControl(c Clock) *NoControl {
	f, err := c.Frequency()
	if err != nil {
		f = 0
	}
	return &NoControl{c: c, freq: f}
}

// Now reads the wrapped clock.
func (n *NoControl) Now() time.Time { return n.c.Now() }

// Step records d.
func (n *NoControl) Step(d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.steps = append(n.steps, d)
	return nil
}

// SetFrequency records ppm, clamped to ±MaxFrequency.
func (n *NoControl) SetFrequency(ppm float64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.freq = clampPPM(ppm)
	return nil
}

// Frequency returns the last recorded frequency.
func (n *NoControl) Frequency() (float64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.freq, nil
}

// SetStatus records s.
func (n *NoControl) SetStatus(s Status) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status, n.statusSet = s, true
	return nil
}

// Steps returns the steps that were asked for, in order.
func (n *NoControl) Steps() []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]time.Duration(nil), n.steps...)
}

// Status returns the last status that was asked for, and whether there
// was one.
func (n *NoControl) Status() (Status, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.statusSet
}

// clampPPM limits a frequency correction to what Linux accepts.
func clampPPM(ppm float64) float64 {
	if math.IsNaN(ppm) {
		return 0
	}
	return min(max(ppm, -MaxFrequency), MaxFrequency)
}
