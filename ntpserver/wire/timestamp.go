package wire

import (
	"math"
	"time"
)

// Time64 is an NTP timestamp (RFC 5905 §6): 32 bits of seconds since the
// start of the current NTP era and 32 bits of fraction. Era 0 began on
// 1900-01-01 and ends on 2036-02-07 06:28:16 UTC; the wire format does not
// carry the era, so conversion back to a time needs a pivot (see Time).
type Time64 uint64

// ntpEpochOffset is the number of seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// eraSeconds is the length of one NTP era, 2^32 seconds.
const eraSeconds = 1 << 32

// TimeToNTP converts t to an NTP timestamp in whatever era t falls in.
// It does not allocate.
func TimeToNTP(t time.Time) Time64 {
	return UnixNanoToNTP(t.Unix(), int64(t.Nanosecond()))
}

// UnixNanoToNTP converts seconds and nanoseconds since the Unix epoch.
// nsec must be in [0, 1e9).
func UnixNanoToNTP(sec, nsec int64) Time64 {
	s := uint64(sec+ntpEpochOffset) & 0xffffffff // wraps into the era
	frac := (uint64(nsec) << 32) / 1e9
	return Time64(s<<32 | frac)
}

// Seconds and Fraction split the timestamp into its two fields.
func (t Time64) Seconds() uint32  { return uint32(t >> 32) }
func (t Time64) Fraction() uint32 { return uint32(t) }

// IsZero reports whether t is the all-zero timestamp, which NTP uses for
// "unknown" or "not set".
func (t Time64) IsZero() bool { return t == 0 }

// Time converts t to a time.Time, choosing the era that puts the result
// closest to pivot (within ±68 years), as RFC 5905 §6 recommends. With a
// pivot near the present this is right on both sides of the 2036 rollover.
func (t Time64) Time(pivot time.Time) time.Time {
	pivot = pivot.Round(0) // wall clock only
	p := TimeToNTP(pivot)
	// The signed difference in NTP units is era-independent.
	return pivot.Add(t.Sub(p))
}

// Sub returns t-u as a duration, computed modulo 2^64 so that timestamps
// on opposite sides of an era boundary still give the small difference
// between them. Valid while |t-u| < 68 years.
func (t Time64) Sub(u Time64) time.Duration {
	return fixedToDuration(int64(t - u))
}

// Add returns t moved by d.
func (t Time64) Add(d time.Duration) Time64 {
	return t + Time64(durationToFixed(d))
}

// fixedToDuration converts a signed 32.32 fixed-point number of seconds.
func fixedToDuration(v int64) time.Duration {
	sec := v >> 32                 // floor, also for negative v
	frac := uint64(v) & 0xffffffff // always positive
	return time.Duration(sec)*time.Second + time.Duration((frac*1e9)>>32)
}

// durationToFixed converts d to signed 32.32 fixed-point seconds.
func durationToFixed(d time.Duration) int64 {
	sec := int64(d / time.Second)
	ns := int64(d % time.Second)
	if ns < 0 {
		sec--
		ns += 1e9
	}
	return sec<<32 | int64((uint64(ns)<<32)/1e9)
}

// Short is the NTP short format (16 bits of seconds, 16 bits of fraction),
// used for root delay and root dispersion.
type Short uint32

// DurationToShort converts d, saturating at the format's range
// (0 to 65535.99998 s). Negative durations become 0.
func DurationToShort(d time.Duration) Short {
	if d <= 0 {
		return 0
	}
	if d >= 65536*time.Second {
		return math.MaxUint32
	}
	return Short((uint64(d) << 16) / uint64(time.Second))
}

// Duration converts s to a time.Duration.
func (s Short) Duration() time.Duration {
	return time.Duration((uint64(s) * uint64(time.Second)) >> 16)
}
