package upstream

import (
	"cmp"
	"slices"
)

// interval is a source's correctness interval: the offsets it can be
// right about, [offset - root distance, offset + root distance]. trust
// marks a source configured with `trust`.
type interval struct {
	lo, hi float64
	trust  bool
}

type endpoint struct {
	x     float64
	low   bool
	trust bool
}

// agreement is the result of intersect.
type agreement struct {
	lo, hi float64 // the region most intervals cover
	depth  int     // how many cover it
	// With trusted sources, the region most trusted intervals cover and
	// how many; trustDepth is 0 without trusted sources.
	trustLo, trustHi float64
	trustDepth       int
}

// intersect finds the region covered by the most intervals, the core of
// RFC 5905 §11.2.1's selection (Marzullo's algorithm) in chrony's form.
// When several separate regions share the best depth, the region spans
// them all, as in chrony. Endpoints that touch count as overlapping.
// Trusted intervals take priority: the region is the one covered by the
// most trusted intervals, then by the most intervals.
func intersect(ivs []interval) agreement {
	eps := make([]endpoint, 0, 2*len(ivs))
	for _, iv := range ivs {
		eps = append(eps, endpoint{iv.lo, true, iv.trust}, endpoint{iv.hi, false, iv.trust})
	}
	slices.SortFunc(eps, func(a, b endpoint) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		switch {
		case a.low == b.low:
			return 0
		case a.low:
			return -1
		default:
			return 1
		}
	})
	var a agreement
	d, td := 0, 0
	for _, e := range eps {
		if e.low {
			d++
			if e.trust {
				td++
			}
			if td > a.trustDepth || td == a.trustDepth && d > a.depth {
				if td > a.trustDepth {
					a.trustDepth, a.trustLo = td, e.x
				}
				a.depth, a.lo = d, e.x
			}
			continue
		}
		if td == a.trustDepth {
			if d == a.depth {
				a.hi = e.x
			}
			a.trustHi = e.x
		}
		if e.trust {
			td--
		}
		d--
	}
	return a
}

// majority reports whether the agreement covers more than half of the
// intervals (of the trusted ones, when there are any); n and nTrusted
// count them.
func (a agreement) majority(n, nTrusted int) bool {
	if a.trustDepth > 0 {
		return a.trustDepth > nTrusted/2
	}
	return a.depth > n/2
}

// survives reports whether iv is a truechimer: it agrees with the
// region and, when there are trusted sources, is trusted or lies within
// the trusted region (so untrusted sources cannot pull the result out of
// it).
func (a agreement) survives(iv interval) bool {
	if !iv.agrees(a.lo, a.hi) {
		return false
	}
	return a.trustDepth == 0 || iv.trust || iv.lo >= a.trustLo && iv.hi <= a.trustHi
}

// agrees reports whether iv contains the region [lo, hi] or lies within
// it: the test that separates truechimers from falsetickers.
func (iv interval) agrees(lo, hi float64) bool {
	return iv.lo <= lo && iv.hi >= hi || iv.lo >= lo && iv.hi <= hi
}
