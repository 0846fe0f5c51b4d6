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
// not be a blanket: at the end of the day the median bound is at most 3
// times the 99th percentile of the true error over the seeds. The box
// has `local
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
		b, lastErr, lastDist := holdoverMinutes(t, w, seed+1, 24*time.Hour)
		if b.inside != b.synced {
			t.Errorf("seed %d: served time outside its bound in %d of %d minutes (worst %.2f× the bound)",
				seed+1, b.synced-b.inside, b.synced, b.worst)
		}
		endErr = append(endErr, math.Abs(lastErr))
		endBound = append(endBound, lastDist)
	}
	slices.Sort(endErr)
	slices.Sort(endBound)
	p99 := endErr[int(math.Ceil(0.99*seeds))-1]
	medBound, maxBound := endBound[seeds/2], endBound[seeds-1]
	t.Logf("after 24 h of holdover: |error| median %s, p99 %s; bound %s to %s, median %s (%.2f× the p99 error; the widest %.2f×)",
		us(endErr[seeds/2]), us(p99), us(endBound[0]), us(maxBound), us(medBound), medBound/p99, maxBound/p99)
	// The bound grows at chrony's rate: maxclockerror (1 ppm, 86.4 ms a
	// day) plus the skew and residual frequency of the last update. The
	// skew is chrony's (Student's t at 99.95 % times the slope's standard
	// error), so a seed whose regression window happened to be short when
	// its sources went away gets a wider bound: the widest is compared
	// in the log, the median one here.
	if medBound > 3*p99 {
		t.Errorf("median bound %s after 24 h, more than 3× the 99th percentile of the error (%s)", us(medBound), us(p99))
	}
}

// An oscillator that has jumped once may jump again, and in holdover
// nothing sees it: the bound served after a jump has been seen must
// grow at the jump's rate (wanderAt), not at the quiet maxclockerror.
// The box syncs for 3 h, its frequency steps by +20 ppm at 1.5 h (seen
// and learnt), its sources go away at 3 h, and the frequency steps by
// another +20 ppm at 4 h. Each minute of the 6 h holdover the served
// time must be inside the served bound, over 3 seeds.
//
// Without the remembered jump the bound grows at the skew + 1 ppm and
// the error at 20 ppm: measured (2026-12-05), every seed is outside
// the bound from about 4.1 h on, 296 of 360 minutes, at worst 16× the
// bound (360 ms off, 22 ms served). With it: inside all 360 minutes,
// at worst 0.87-0.88× the bound; at the end 355-359 ms off, 408-410 ms
// served.
func TestHoldoverAfterFrequencyJumpBound(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		s := lanSetup()
		s.seed = seed
		s.cfg.Local = parseLocal(t, "stratum 10")
		s.clock.FreqSteps = []clocktest.FreqStep{{At: 1.5 * 3600, PPM: 20}, {At: 4 * 3600, PPM: 20}}
		w := newWorld(t, s)
		for _, id := range w.ids {
			w.Server(id).Up = clocktest.Outage(3*3600, 1e12)
		}
		w.Run(3 * time.Hour)
		b, lastErr, lastDist := holdoverMinutes(t, w, seed, 6*time.Hour)
		t.Logf("seed %d: %d of %d minutes inside the bound (worst %.2f× the bound); at the end |error| %s, bound %s",
			seed, b.inside, b.synced, b.worst, us(math.Abs(lastErr)), us(lastDist))
		if b.inside != b.synced {
			t.Errorf("seed %d: served time outside its bound in %d of %d minutes (worst %.2f× the bound)",
				seed, b.synced-b.inside, b.synced, b.worst)
		}
		// Not a blanket either: 20 ppm over the 5 h since the step is
		// 360 ms; the bound may be a few times that, not seconds.
		if lastDist > 3*math.Abs(lastErr)+0.1 {
			t.Errorf("seed %d: bound %s at the end, more than 3× the error %s (+100 ms)", seed, us(lastDist), us(math.Abs(lastErr)))
		}
	}
}

// holdoverMinutes runs w for d from now, the start of a holdover,
// counting each minute whether the time served is inside its bound; it
// returns the count and the last minute's error and bound (s). The box
// must stay synchronised throughout.
func holdoverMinutes(t *testing.T, w *world, seed uint64, d time.Duration) (b boundCount, lastErr, lastDist float64) {
	t.Helper()
	start := w.Elapsed()
	w.Every = time.Minute
	w.Observe = func(*clocktest.Sim) {
		err, dist, synced := b.observe(w)
		if !synced {
			t.Fatalf("seed %d: unsynchronised %.0f s into the holdover", seed, w.Elapsed()-start)
		}
		lastErr, lastDist = err, dist
	}
	w.Run(d)
	w.Observe = nil
	return b, lastErr, lastDist
}

// Only our oscillator's frequency jumps are remembered (learnJump):
// the frequency the discipline learns after the jump against the one
// before, not a jumped sample's rate. Our 20 ppm jump must make the
// bound grow at about 20 ppm an hour later; these must not, and leave it
// at the quiet rate (skew + residual + maxclockerror, a few ppm): one
// server of three whose own frequency jumps by 50 ppm (it is outvoted),
// the only server's time stepping 50 ms, and all three servers' time
// stepping 300 ms (to the box, its own clock stepped from outside: a VM
// paused and resumed). Each at 2 h, the rate read at 3 h, seeds 1-3.
//
// Measured (2026-12-05): our jump 19.4-19.7 ppm, the others 1.02-1.23
// ppm. Taking the jumped samples' rate instead (b2666bc) remembered a
// step as a jump: 15-67 ppm for the one server's 50 ms step and 250-442
// ppm for the all-server 300 ms step, for 12 hours.
func TestWanderOnlyOurOscillator(t *testing.T) {
	cases := []struct {
		name    string
		ours    bool
		servers int
		all     bool // the disturbance is every server's, not server 0's
		srv     func(t float64) float64
	}{
		{"our frequency +20 ppm", true, 3, false, nil},
		{"server 1 of 3: frequency +50 ppm", false, 3, false, func(t float64) float64 { return max(0, t-2*3600) * 50e-6 }},
		{"the only server: time +50 ms", false, 1, false, clocktest.Step(2*3600, 50*time.Millisecond)},
		{"all 3 servers: time +300 ms", false, 3, true, clocktest.Step(2*3600, 300*time.Millisecond)},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			s := lanSetup()
			s.seed, s.servers = seed, c.servers
			if c.ours {
				s.clock.FreqSteps = []clocktest.FreqStep{{At: 2 * 3600, PPM: 20}}
			}
			if c.srv != nil {
				s.perServer = func(i int, srv *clocktest.Server) {
					if i == 0 || c.all {
						srv.Offset = c.srv
					}
				}
			}
			w := newWorld(t, s)
			w.Run(3 * time.Hour)
			rate := w.Engine.SyncState().DispRate * 1e6
			jump := w.Engine.Tracking().RememberedJump
			t.Logf("%s, seed %d: the bound grows at %.2f ppm an hour later; tracking's remembered jump %.2f ppm", c.name, seed, rate, jump)
			// tracking shows the part of the rate that is the remembered
			// jump, and nothing when none was learnt.
			if c.ours && (jump < 15 || jump > rate) {
				t.Errorf("%s, seed %d: tracking's remembered jump %.2f ppm, want 15 ppm to the rate (%.2f)", c.name, seed, jump, rate)
			}
			if !c.ours && jump != 0 {
				t.Errorf("%s, seed %d: not our frequency, but tracking remembers a jump of %.2f ppm", c.name, seed, jump)
			}
			if c.ours && rate < 15 {
				t.Errorf("%s, seed %d: the bound grows at %.2f ppm, want >= 15", c.name, seed, rate)
			}
			if !c.ours && rate > 5 {
				t.Errorf("%s, seed %d: not our frequency, but the bound grows at %.2f ppm, want <= 5", c.name, seed, rate)
			}
		}
	}
}
