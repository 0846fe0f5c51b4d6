//go:build hardfail

package upstream_test

// Hard scenarios that the engine does not pass yet: run them with
//
//	go test -count=1 -tags hardfail -run Hard -v ./ntpserver/upstream/
//
// They move to scenario_hard_test.go once the engine passes them.

import (
	"fmt"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
)

// The oscillator's frequency steps by +20 ppm, and later by -20 ppm (a
// VM moving between hosts, a fan stopping), at the baked polling
// (iburst, minpoll 6, maxpoll 10). The sources must keep being used
// after each step: their good samples keep coming.
func TestHardFrequencySteps(t *testing.T) {
	s := hardDefaults()
	s.clocks[0].FreqSteps = []clocktest.FreqStep{{At: 2 * hour, PPM: 20}, {At: 5 * hour, PPM: -20}}
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(time.Hour-time.Second, true)
	for _, at := range []float64{2 * hour, 5 * hour} {
		n.run(time.Duration(at-n.Elapsed())*time.Second, true)
		before := n.goodRx()
		n.run(time.Hour, true)
		// At maxpoll 10 an hour holds at least 3 polls; after a step
		// the poll drops, so more. Every one must give a sample.
		n.sourcesUsed(t, before, 3, fmt.Sprintf("an hour after the step at %.0f h", at/hour))
	}
	n.run(2*time.Hour, true)
	// With a single step that the engine follows (seeds 1 and 3 of a
	// +20 or -20 ppm step at 2 h), measured: p95 21.6–37.0 µs, max
	// 3.05–3.31 ms (the error the step builds up before the next poll
	// shows it), 99.8–100% in bound. Limits: p95 100 µs, max 10 ms
	// (20 ppm over a 500 s wait).
	//
	// Against the engine of 2026-12-04 (no source stuck any more: the
	// outlier hold-back lets no two samples in a row go): every source
	// is followed after both steps, max 4.0 ms, but p95 167 µs and
	// 98.73% of the replies inside the bound: for up to one 1024 s poll
	// after each step the clock runs 20 ppm off while the bound grows at
	// its skew + maxclockerror (1 ppm). Polling sooner after a held-back
	// outlier made it worse (97.5%: two agreeing outliers then restart
	// the statistics).
	//
	// With chrony's regression weights and skew (Student's t, later the
	// same day): p95 2.9 ms, max 15.0 ms, 96.06% in bound. The larger
	// skew of a window the runs test has just shortened gives the new
	// frequency less weight, so the clock follows a step more slowly;
	// in the lab the same change halved p50 and p95 (see the commit).
	//
	// With jump handling (a sample far off its line is a jump; the
	// other sources are polled at once; a confirmed jump gives the
	// source's offset from its newest sample and widens our skew by its
	// rate; clock updates on every combined source's sample): seed 1
	// p95 70.7 µs, max 10.6 ms, 97.48% in bound. Over seeds 1-12
	// (TestHardFrequencyStepSeeds): p95 35.8-94.2 µs (before: 60-2010),
	// in bound 97.48-99.93% (before: 96.59-97.63%), 8 of 12 at 99% or
	// more. What is left is the wait for the first poll after a step: at
	// poll 1024 s nothing sees the clock run 20 ppm off for up to 500 s
	// (seed 1's second step), while the bound grows at maxclockerror.
	//
	// With skewPoll (2026-12-05; it polls a new source sooner while its
	// frequency is uncertain): seeds 1-12 98.59-99.63% in bound, 8 of 12
	// at 99% or more, mean 99.20% (99.10% before); once skewPoll counted
	// only a source's first 16 samples (d68a1ab): 98.07-100%, 7 of 12,
	// mean 99.20%. Spreading the sources'
	// long polls over the interval (branch spread: the longest wait for
	// a sample 896 -> 384 s in TestPollsSpreadAtMaxpoll) gave 6 of 12,
	// mean 99.18%: the wait for the first sample is not all of it.
	//
	// With a remembered jump (wanderAt, 2026-12-05 night: after the
	// first step is seen, the bound grows at its rate for hours, so the
	// second step is covered): seeds 1-12 98.37-100%, 10 of 12 at 99%
	// or more (before: 98.07-100%, 7 of 12); p95 and max unchanged (the
	// bound moves, the clock does not). Seeds 5 and 7 (98.37%, 98.89%)
	// lose it at the first step: nothing has jumped before it, and
	// nothing sees it until the next poll.
	n.check(t, hour, 100e-6, 10e-3)
}

// TestHardFrequencyStepSeeds is TestHardFrequencySteps over twelve
// seeds: the polls fall at other times relative to the steps.
func TestHardFrequencyStepSeeds(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		s := hardDefaults()
		s.seed = seed
		s.clocks[0].FreqSteps = []clocktest.FreqStep{{At: 2 * hour, PPM: 20}, {At: 5 * hour, PPM: -20}}
		n := newHardLAN(t, s)
		n.run(time.Hour, false)
		n.run(6*time.Hour, true)
		b := n.boxes[0]
		ps := b.probe.Stats(hour)
		t.Logf("seed %d: true error p95 %s max %s; %.2f%% in bound", seed, us(b.errs.Percentile(95)), us(b.errs.MaxAbs), 100*ps.InBoundShare())
		if e := b.errs.Percentile(95); e > 100e-6 {
			t.Errorf("seed %d: true error p95 %s, want <= 100 µs", seed, us(e))
		}
		if sh := ps.InBoundShare(); sh < 0.99 {
			t.Errorf("seed %d: %.2f%% inside the served bound, want >= 99%%", seed, 100*sh)
		}
	}
}
