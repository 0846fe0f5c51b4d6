package upstream

import "math"

// This file picks the system peer among the survivors of the selection
// and the sources combined with it (chrony's combinelimit).

// choose picks the system peer among the survivors (only the preferred
// ones if any has `prefer`) and the sources combined with it, marks
// their states and returns them, the system peer first.
func (e *Engine) choose(surv []*source) []*source {
	pool := surv
	if hasPrefer(surv) {
		pool = nil
		for _, s := range surv {
			if s.cfg.Prefer {
				pool = append(pool, s)
			} else {
				s.state = stateNotCombined
			}
		}
	}
	best := e.best(pool)
	if best != e.selected {
		e.log.Info("selected source", "source", best.name, "stratum", best.stratum)
	}
	e.selected = best
	combined := []*source{best}
	best.state = stateSelected
	for _, s := range pool {
		if s == best {
			continue
		}
		if e.combinable(best, s) {
			s.state = stateCombined
			combined = append(combined, s)
		} else {
			s.state = stateNotCombined
		}
	}
	return combined
}

func hasPrefer(ss []*source) bool {
	for _, s := range ss {
		if s.cfg.Prefer {
			return true
		}
	}
	return false
}

// best picks the system peer: the smallest root distance plus a weight
// per stratum, with a bonus for the current choice so that near-equal
// sources do not flap.
func (e *Engine) best(ss []*source) *source {
	minStratum := ss[0].stratum
	for _, s := range ss {
		minStratum = min(minStratum, s.stratum)
	}
	var best *source
	bestScore := math.Inf(1)
	for _, s := range ss {
		score := s.sel.distance + float64(s.stratum-minStratum)*e.cfg.Tuning.StratumWeight
		if s != e.selected {
			score += e.cfg.Tuning.ReselectDist
		}
		if score < bestScore {
			best, bestScore = s, score
		}
	}
	return best
}

// combinable is chrony's combinelimit: a survivor joins the combination
// if its distance is within combineLimit times the best one and its
// frequency agrees with the best one's.
func (e *Engine) combinable(best, s *source) bool {
	if s.sel.distance > e.cfg.Tuning.CombineLimit*best.sel.distance {
		return false
	}
	df := math.Abs(s.sel.freq - best.sel.freq)
	return df <= freqCombineSDs*math.Hypot(s.sel.skew, best.sel.skew)+e.cfg.Tuning.MaxClockError
}
