package upstream_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
)

// A day of holdover after an hour of synchronisation, over 20 seeds
// (each its own oscillator wander and network): the time served must be
// inside the bound served with it at every minute, and the bound must
// not be a blanket: at the end of the day it is at most 3 times the 99th
// percentile of the true error over the seeds. The box has `local
// stratum 10` (not orphan), so after its sources turn unreachable it
// serves its own clock with the dispersion grown since the last update.
func TestHoldoverDayBound(t *testing.T) {
	const seeds = 20
	var endErr, endBound []float64
	for seed := range uint64(seeds) {
		s := lanSetup()
		s.seed = seed + 1
		s.cfg.Local = parseLocal(t, "stratum 10")
		w := newWorld(t, s)
		for _, id := range w.ids {
			w.Server(id).Up = clocktest.Outage(3600, 1e12)
		}
		w.Run(time.Hour)
		var b boundCount
		var lastErr, lastDist float64
		w.Every = time.Minute
		w.Observe = func(*clocktest.Sim) {
			err, dist, synced := b.observe(w)
			if !synced {
				t.Fatalf("seed %d: unsynchronised %.0f s into the holdover", seed+1, w.Elapsed()-3600)
			}
			lastErr, lastDist = err, dist
		}
		w.Run(24 * time.Hour)
		w.Observe = nil
		if b.inside != b.synced {
			t.Errorf("seed %d: served time outside its bound in %d of %d minutes (worst %.2f× the bound)",
				seed+1, b.synced-b.inside, b.synced, b.worst)
		}
		endErr = append(endErr, math.Abs(lastErr))
		endBound = append(endBound, lastDist)
	}
	slices.Sort(endErr)
	p99 := endErr[int(math.Ceil(0.99*seeds))-1]
	maxBound := slices.Max(endBound)
	t.Logf("after 24 h of holdover: |error| median %s, p99 %s; bound %s to %s",
		us(endErr[seeds/2]), us(p99), us(slices.Min(endBound)), us(maxBound))
	if maxBound > 3*p99 {
		t.Errorf("bound %s after 24 h, more than 3× the 99th percentile of the error (%s)", us(maxBound), us(p99))
	}
}
