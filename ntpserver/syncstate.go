package ntpserver

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// PHI is the frequency tolerance RFC 5905 assumes for a clock that is not
// being updated: the dispersion a server reports grows by 15 µs per second
// since its last update.
const PHI = 15e-6

// SyncState is what the server says about its own clock in every reply:
// the header fields that RFC 5905 calls the system variables. The upstream
// sync feeds it; until there is one, it is Unsynchronised or LocalClock.
// A SyncState is a value: the server keeps the current one behind an
// atomic pointer and replaces it whole.
type SyncState struct {
	Leap      wire.Leap
	Stratum   uint8 // wire.MaxStratum (16) together with wire.LeapUnsynchronised when not synchronised
	Precision int8  // log2 seconds, the clock's reading precision
	RefID     uint32
	// RefTime is when the clock was last set or corrected. Root dispersion
	// grows with the time elapsed since then.
	RefTime        wire.Time64
	RootDelay      time.Duration
	RootDispersion time.Duration // at RefTime
	// DispRate is how fast the root dispersion grows after RefTime, in
	// seconds per second: the sync engine's skew, residual frequency and
	// maxclockerror. Zero means RFC 5905's PHI (15 µs/s).
	DispRate float64
	// Correction turns the system clock into the time served (chrony's
	// cooked time): what the clock discipline has yet to correct.
	Correction Correction
	// FollowsClock marks the local-reference state: like chrony's `local`,
	// the reference time is always one second before the reply, and the
	// root dispersion does not grow.
	FollowsClock bool
}

// Correction is the cooked time's offset from the system clock: at
// system clock time At (Unix nanoseconds) it is Offset seconds, changing
// at Rate seconds per second from there. The zero Correction serves the
// system clock as it is.
type Correction struct {
	At     int64
	Offset float64
	Rate   float64
}

// Cook returns the time to serve, in Unix nanoseconds, for the system
// clock reading ns (Unix nanoseconds).
func (s *SyncState) Cook(ns int64) int64 {
	c := &s.Correction
	if c.Offset == 0 && c.Rate == 0 {
		return ns
	}
	return ns + int64(math.Round((c.Offset+c.Rate*float64(ns-c.At)*1e-9)*1e9))
}

// CookTime is Cook for a time.Time.
func (s *SyncState) CookTime(t time.Time) time.Time {
	return time.Unix(0, s.Cook(t.UnixNano()))
}

// Unsynchronised is the state of a server with no source and no `local`
// directive: leap 3, stratum 16, as chronyd sends. Clients see the alarm
// and ignore it; stratum 0 would read as a Kiss-o'-Death to some.
func Unsynchronised(precision int8) SyncState {
	return SyncState{Leap: wire.LeapUnsynchronised, Stratum: wire.MaxStratum, Precision: precision}
}

// LocalClock is the state chrony's `local stratum N` gives a server that
// serves its own clock: stratum N, reference ID 127.127.1.1, no root delay,
// a root dispersion of the clock's precision.
func LocalClock(stratum uint8, precision int8) SyncState {
	return SyncState{
		Leap:           wire.LeapNone,
		Stratum:        stratum,
		Precision:      precision,
		RefID:          wire.LocalRefID,
		RootDispersion: precisionDuration(precision),
		FollowsClock:   true,
	}
}

// RootDistanceAt is the root distance a reply served at t (served time)
// claims: half the root delay plus the root dispersion as the reply
// carries it (grown at DispRate since RefTime, or fixed for the local
// clock).
func (s *SyncState) RootDistanceAt(t time.Time) time.Duration {
	_, disp := s.header(wire.TimeToNTP(t))
	return s.RootDelay/2 + disp.Duration()
}

// Synchronised reports whether clients should use this server.
func (s *SyncState) Synchronised() bool {
	return s.Leap != wire.LeapUnsynchronised && s.Stratum > 0 && s.Stratum < 16
}

// header returns the reference time and root dispersion to put in a reply
// received at rx.
func (s *SyncState) header(rx wire.Time64) (ref wire.Time64, disp wire.Short) {
	if s.FollowsClock {
		return rx.Add(-time.Second), wire.DurationToShort(s.RootDispersion)
	}
	if s.RefTime.IsZero() {
		return 0, wire.DurationToShort(s.RootDispersion)
	}
	age := rx.Sub(s.RefTime)
	if age < 0 {
		age = 0
	}
	rate := s.DispRate
	if rate == 0 {
		rate = PHI
	}
	grow := time.Duration(float64(age) * rate)
	return s.RefTime, wire.DurationToShort(s.RootDispersion + grow)
}

func precisionDuration(p int8) time.Duration {
	if p >= 0 {
		return time.Second << uint(p)
	}
	if p < -30 {
		return 1
	}
	return time.Second >> uint(-p)
}
