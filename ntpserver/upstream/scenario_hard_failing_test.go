//go:build hardfail

package upstream_test

// Hard scenarios that fail against the engine of today (see the
// report of the sim-hard branch): run them with
//
//	go test -count=1 -tags hardfail -run Hard -v ./ntpserver/upstream/
//
// They move to scenario_hard_test.go once the engine passes them.

import (
	"fmt"
	"math"
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
	n.check(t, hour, 100e-6, 10e-3)
}

// Holdover: a day without sources after an hour of synchronisation,
// over 20 seeds, with the appliance's `local stratum 10 orphan`. The
// true error must stay inside the served bound all the time (every
// synchronised reply of the probe, polling every minute: replies with
// leap 3 claim nothing), the box must still serve a bound at the end,
// and that bound be no wider than 3 times the 99th percentile (over the
// seeds) of the true error then: a bound far wider says nothing.
func TestHardHoldover(t *testing.T) {
	const seeds = 20
	var endErr clocktest.Stats
	endBound := make([]float64, seeds)
	for seed := range uint64(seeds) {
		s := hardDefaults()
		s.seed = seed + 1
		s.probeEvery = time.Minute
		s.local = "stratum 10 orphan"
		n := newHardLAN(t, s)
		for _, srv := range n.servers {
			srv.Up = clocktest.Outage(hour, math.Inf(1))
		}
		n.run(time.Hour, false)
		n.run(24*time.Hour, false)
		b := n.boxes[0]
		ps := b.probe.Stats(hour + 60)
		last := b.probe.Replies[len(b.probe.Replies)-1]
		endErr.Add(last.Offset)
		endBound[seed] = last.RootDelay/2 + last.RootDisp
		if !last.Synced {
			endBound[seed] = math.Inf(1)
		}
		t.Logf("seed %d: end error %s, bound %s (stratum %d); %d/%d synchronised replies in bound (worst excess %s)",
			s.seed, us(last.Offset), us(endBound[seed]), b.Engine.SyncState().Stratum, ps.InBound, ps.Synced, us(ps.WorstExcess))
		if ps.InBound != ps.Synced || ps.Synced == 0 {
			t.Errorf("seed %d: %d of %d synchronised replies in holdover outside the served bound (worst by %s)",
				s.seed, ps.Synced-ps.InBound, ps.Synced, us(ps.WorstExcess))
		}
	}
	p99 := endErr.Percentile(99)
	t.Logf("true error at the end over the seeds: p50 %s p99 %s", us(endErr.Percentile(50)), us(p99))
	for i, bd := range endBound {
		if bd > 3*p99 {
			t.Errorf("seed %d: bound %s after 24 h, more than 3 × the p99 true error %s", i+1, us(bd), us(p99))
		}
	}
}
