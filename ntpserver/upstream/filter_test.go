package upstream

import (
	"math"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

// `filter N` passes on the median of N polls' samples: the middle one of
// an odd number, the mean of the middle two of an even number (with their
// spread as dispersion when larger), after leaving out, among five or
// more, those with more than 1.5 times the smallest dispersion. Polls
// without a sample count.
func TestFilterMedian(t *testing.T) {
	src := func(n int) *source { return &source{cfg: config.Source{Filter: n}} }
	add := func(s *source, off, disp float64) (sample, bool) {
		return s.filterAdd(sample{t: off, offset: off, delay: 1e-3, disp: disp})
	}

	s := src(5)
	for i, off := range []float64{5, 1, 3, 100} {
		if _, ok := add(s, off, 1e-6); ok {
			t.Fatalf("a sample after %d of 5 polls", i+1)
		}
	}
	out, ok := add(s, 2, 1e-6)
	if !ok || out.offset != 3 || out.delay != 1e-3 {
		t.Errorf("median of 5, 1, 3, 100, 2: %+v %v, want offset 3", out, ok)
	}

	// Four samples: the middle two, averaged; their spread is larger
	// than their dispersion.
	s = src(4)
	for _, off := range []float64{10e-6, -50e-6, 30e-6} {
		add(s, off, 1e-6)
	}
	out, ok = add(s, 20e-6, 1e-6)
	if want := 15e-6; !ok || math.Abs(out.offset-want) > 1e-12 || math.Abs(out.disp-10e-6/math.Sqrt2) > 1e-12 {
		t.Errorf("median of 4: offset %g disp %g, want %g and %g", out.offset, out.disp, want, 10e-6/math.Sqrt2)
	}

	// Five samples, two of them with a large dispersion: those are left
	// out only if four would remain, so here all five count.
	s = src(5)
	for _, x := range [][2]float64{{1, 1e-6}, {2, 1e-6}, {3, 1e-6}, {-100, 9e-6}} {
		add(s, x[0], x[1])
	}
	if out, _ = add(s, -90, 9e-6); out.offset != 1 {
		t.Errorf("median with 3 low-dispersion samples of 5: %g, want 1 (all five count)", out.offset)
	}
	// Six samples, one with a large dispersion: it is left out.
	s = src(6)
	for _, x := range [][2]float64{{1, 1e-6}, {2, 1e-6}, {3, 1e-6}, {4, 1e-6}, {5, 1e-6}} {
		add(s, x[0], x[1])
	}
	if out, _ = add(s, -100, 9e-6); out.offset != 3 {
		t.Errorf("median of 1..5 without the dispersed -100: %g, want 3", out.offset)
	}

	// Missed polls count: 3 polls, one sample, two misses.
	s = src(3)
	add(s, 7, 1e-6)
	if _, ok := s.filterMissed(); ok {
		t.Fatal("a sample after 2 of 3 polls")
	}
	if out, ok = s.filterMissed(); !ok || out.offset != 7 {
		t.Errorf("after 3 polls with one sample: %+v %v", out, ok)
	}
}
