// Package clock is the only place ntpbox touches the system clock.
//
// Everything else sees a Clock: the upstream sync reads it and asks it to
// step or change frequency; the Linux implementation does so with
// clock_adjtime(2); NoControl (chronyd -x) only reads; the simulated clock
// in clocktest lets the real discipline run in accelerated time.
package clock

import (
	"time"
)

// Leap is the leap-second status handed to the kernel.
type Leap uint8

const (
	LeapNone   Leap = 0
	LeapInsert Leap = 1
	LeapDelete Leap = 2
)

// Status is what the kernel is told about synchronisation. When Synced is
// set, Linux clears STA_UNSYNC, and with RTCSync its 11-minute mode copies
// the system time to the hardware clock (chrony's rtcsync).
type Status struct {
	Synced   bool
	Leap     Leap
	MaxError time.Duration
	EstError time.Duration
}

// Clock is a clock that can be read and steered.
type Clock interface {
	// Now reads the clock.
	Now() time.Time
	// Step jumps the clock by d (positive: forward).
	Step(d time.Duration) error
	// SetFrequency sets the clock's frequency correction in ppm: positive
	// makes it run faster. It is absolute, not incremental. Implementations
	// clamp to ±MaxFrequency, or to ±MaxSlewRate() when they are a
	// FastSlewer.
	SetFrequency(ppm float64) error
	// Frequency returns the frequency correction in effect, in ppm.
	Frequency() (float64, error)
	// SetStatus reports synchronisation and leap status to the kernel.
	SetStatus(s Status) error
}

// MaxFrequency is the largest frequency correction Linux accepts, in ppm.
const MaxFrequency = 500.0

// A FastSlewer is a Clock whose frequency correction may go far beyond
// MaxFrequency for a while, to slew an offset away quickly: a box booted
// with its clock 0.4 s off (the RTC keeps whole seconds) corrects it in
// seconds instead of the 13 minutes 500 ppm takes. Linux does it by
// changing the length of the clock tick, as chronyd does.
type FastSlewer interface {
	// MaxSlewRate is the largest correction SetFrequency applies, in ppm.
	MaxSlewRate() float64
}

// MaxSlewRate is the largest correction the Linux clock applies, in ppm:
// chrony's default maxslewrate (1/12 s per second). The kernel allows a
// tick of ±10%.
const MaxSlewRate = 83333.333
