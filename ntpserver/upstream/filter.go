package upstream

import (
	"math"
	"slices"
)

// The `filter N` option of a source (chrony's samplefilt.c, as ntp_core.c
// uses it): the samples of N polls are gathered, and only their median
// goes to the source's statistics. A poll that gets no usable reply
// counts too, so a sample comes every N polls whatever the losses. Among
// five or more samples, those whose dispersion is more than 1.5 times the
// smallest are left out first (unless fewer than four would remain).
// The median of an even number is the mean of the middle two, whose
// spread is the combined sample's dispersion if it is larger than theirs.
// (chrony also smooths that spread with a long-term average; ntpbox
// takes it as it is.)

// filterAdd gathers sm and reports the combined sample once the source's
// filter has counted N polls; ok is false until then. Without `filter`
// it returns sm.
func (s *source) filterAdd(sm sample) (sample, bool) {
	n := s.cfg.Filter
	if n <= 0 {
		return sm, true
	}
	s.filterSamples = append(s.filterSamples, sm)
	s.filterCount++
	return s.filterOut()
}

// filterMissed counts a poll that gave no sample, and returns the
// combined sample if that completes the N polls.
func (s *source) filterMissed() (sample, bool) {
	if s.cfg.Filter <= 0 {
		return sample{}, false
	}
	s.filterCount++
	return s.filterOut()
}

// filterOut returns the combined sample once N polls are counted.
func (s *source) filterOut() (sample, bool) {
	if s.filterCount < s.cfg.Filter || len(s.filterSamples) == 0 {
		return sample{}, false
	}
	all := s.filterSamples
	s.filterSamples, s.filterCount = s.filterSamples[:0], 0
	sel := make([]sample, 0, len(all))
	if len(all) > 4 {
		minDisp := math.Inf(1)
		for _, x := range all {
			minDisp = min(minDisp, x.disp)
		}
		for _, x := range all {
			if x.disp <= 1.5*minDisp {
				sel = append(sel, x)
			}
		}
	}
	if len(sel) < 4 {
		sel = append(sel[:0], all...)
	}
	slices.SortStableFunc(sel, func(a, b sample) int {
		switch {
		case a.offset < b.offset:
			return -1
		case a.offset > b.offset:
			return 1
		}
		return 0
	})
	j := len(sel)
	from := 0
	if j > 2 {
		from = (j - 1) / 2
	}
	mid := sel[from : j-from]
	var out sample
	var disp float64
	k := float64(len(mid))
	for _, x := range mid {
		out.t += x.t / k
		out.offset += x.offset / k
		out.measured += x.measured / k
		out.delay += x.delay / k
		out.rootDelay += x.rootDelay / k
		out.rootDisp += x.rootDisp / k
		disp += x.disp / k
	}
	var spread float64
	if len(mid) == 2 {
		spread = math.Abs(mid[0].offset-mid[1].offset) / math.Sqrt2
	}
	out.disp = max(spread, disp)
	out.rootDisp = max(spread, out.rootDisp)
	return out, true
}

// filterAdjust re-expresses the gathered samples after the cooked clock
// moved, as the statistics' samples are.
func (s *source) filterAdjust(now, dOffset, dFreq float64) {
	for i := range s.filterSamples {
		s.filterSamples[i].reframe(now, dOffset, dFreq)
	}
}
