package clocktest

import (
	"math"
	"slices"
)

// Stats accumulates |clock error| observations.
type Stats struct {
	N       int
	SumSq   float64
	MaxAbs  float64
	samples []float64
}

// Add records one error in seconds.
func (st *Stats) Add(err float64) {
	st.N++
	st.SumSq += err * err
	st.MaxAbs = max(st.MaxAbs, math.Abs(err))
	st.samples = append(st.samples, math.Abs(err))
}

// RMS returns the root mean square error in seconds.
func (st *Stats) RMS() float64 {
	if st.N == 0 {
		return 0
	}
	return math.Sqrt(st.SumSq / float64(st.N))
}

// Percentile returns the p-th percentile (0–100) of |error| in seconds.
func (st *Stats) Percentile(p float64) float64 {
	if len(st.samples) == 0 {
		return 0
	}
	s := slices.Clone(st.samples)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
