package ntpserver

import (
	"math"
	"time"
)

// MeasurePrecision estimates the clock's reading precision as chrony does:
// the smallest positive difference between consecutive readings, as a
// power of two in seconds (e.g. -25 for about 30 ns). It reads now a few
// hundred times.
func MeasurePrecision(now func() time.Time) int8 {
	best := time.Duration(math.MaxInt64)
	prev := now()
	for i := 0; i < 500; i++ {
		t := now()
		if d := t.Sub(prev); d > 0 && d < best {
			best = d
		}
		prev = t
	}
	if best == math.MaxInt64 {
		return -20
	}
	p := int8(math.Ceil(math.Log2(best.Seconds())))
	return max(p, -30)
}
