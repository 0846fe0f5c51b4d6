package upstream

import "testing"

func TestIntersect(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ivs       []interval
		lo, hi    float64
		depth     int
		survivors []bool
	}{
		{
			name: "one source",
			ivs:  []interval{{lo: -1, hi: 1}},
			lo:   -1, hi: 1, depth: 1,
			survivors: []bool{true},
		},
		{
			name: "three agree",
			ivs:  []interval{{lo: -1, hi: 1}, {lo: 0, hi: 2}, {lo: -0.5, hi: 0.5}},
			lo:   0, hi: 0.5, depth: 3,
			survivors: []bool{true, true, true},
		},
		{
			name: "one falseticker far away",
			ivs:  []interval{{lo: -1e-4, hi: 1e-4}, {lo: 0.05 - 1e-4, hi: 0.05 + 1e-4}, {lo: -0.5e-4, hi: 1.5e-4}},
			lo:   -0.5e-4, hi: 1e-4, depth: 2,
			survivors: []bool{true, false, true},
		},
		{
			name: "hour step is a falseticker",
			ivs:  []interval{{lo: 3600 - 1e-3, hi: 3600 + 1e-3}, {lo: -1e-3, hi: 1e-3}, {lo: -2e-3, hi: 0}},
			lo:   -1e-3, hi: 0, depth: 2,
			survivors: []bool{false, true, true},
		},
		{
			name: "touching intervals overlap",
			ivs:  []interval{{lo: 0, hi: 1}, {lo: 1, hi: 2}},
			lo:   1, hi: 1, depth: 2,
			survivors: []bool{true, true},
		},
		{
			name: "two disjoint pairs: no majority",
			ivs:  []interval{{lo: 0, hi: 1}, {lo: 0.5, hi: 1.5}, {lo: 10, hi: 11}, {lo: 10.5, hi: 11.5}},
			lo:   0.5, hi: 11, depth: 2,
			survivors: []bool{false, false, false, false},
		},
		{
			name: "wide interval bridges two regions",
			ivs:  []interval{{lo: 0, hi: 10}, {lo: 0, hi: 1}, {lo: 9, hi: 10}},
			lo:   0, hi: 10, depth: 2,
			survivors: []bool{true, true, true},
		},
		{
			name: "nested",
			ivs:  []interval{{lo: -5, hi: 5}, {lo: -1, hi: 1}, {lo: -0.1, hi: 0.1}},
			lo:   -0.1, hi: 0.1, depth: 3,
			survivors: []bool{true, true, true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := intersect(tc.ivs)
			if a.lo != tc.lo || a.hi != tc.hi || a.depth != tc.depth {
				t.Errorf("intersect = [%g, %g] depth %d, want [%g, %g] depth %d", a.lo, a.hi, a.depth, tc.lo, tc.hi, tc.depth)
			}
			trusted := 0
			for _, iv := range tc.ivs {
				if iv.trust {
					trusted++
				}
			}
			majority := a.majority(len(tc.ivs), trusted)
			for i, iv := range tc.ivs {
				got := majority && a.survives(iv)
				if got != tc.survivors[i] {
					t.Errorf("interval %d %v: survivor %v, want %v", i, iv, got, tc.survivors[i])
				}
			}
		})
	}
}
