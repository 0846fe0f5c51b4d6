package upstream_test

import (
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The QEMU lab's start: a clock 100 ppm off and 0.5 s wrong, samples as
// noisy as a TCG guest's (1.4 ms round trips, a few hundred µs of
// jitter). The iburst's four samples, 2 s apart, leave the frequency
// known only to a few hundred ppm, and at minpoll 6 the next sample
// would come 64 s later: meanwhile the served time could run several
// ms off (bench-time, 2026-12-05: +126 ppm, 7.7 ms after 65 s). The
// box keeps polling sooner than minpoll while its frequency is that
// uncertain (Engine.skewPoll), so the error stays within 1 ms from
// 20 s on.
func TestStartNoisyFrequencyKnownSoon(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		s := lanSetup()
		s.seed = seed
		s.link = clocktest.Link{Delay: 600 * time.Microsecond, Jitter: 300 * time.Microsecond}
		w := newWorld(t, s)
		w.Run(20 * time.Second)
		worst, at := 0.0, 0.0
		w.Every = time.Second
		w.Observe = func(s *clocktest.Sim) {
			if e := math.Abs(s.Clock.ErrorSeconds()); e > worst {
				worst, at = e, s.Elapsed()
			}
		}
		w.Run(280 * time.Second)
		t.Logf("seed %d: steps %v; largest |error| from 20 s to 300 s: %s at %.0f s", seed, w.Clock.Steps(), us(worst), at)
		if worst > 1e-3 {
			t.Errorf("seed %d: |error| %s at %.0f s, want <= 1 ms from 20 s on", seed, us(worst), at)
		}
	}
}

// A server that sent a RATE kiss during the iburst is not polled sooner
// for the frequency's sake: skewPoll stays above the kiss's floor
// (2^7 s at least), even on a link so noisy that the frequency stays
// uncertain for long.
func TestStartNoisyRespectsRateKiss(t *testing.T) {
	s := lanSetup()
	s.link = clocktest.Link{Delay: 600 * time.Microsecond, Jitter: 4 * time.Millisecond}
	w := newWorld(t, s)
	id := w.ids[0]
	w.Server(id).Kiss = func(t float64) string {
		if t < 3 {
			return "RATE"
		}
		return ""
	}
	at := sampleTimes(w, id, time.Hour) // when the kissing server's samples came
	r := w.source(id)
	if r.KissCode != "RATE" {
		t.Fatalf("kiss %q, want RATE", r.KissCode)
	}
	short := 1e9
	for i := 1; i < len(at); i++ {
		short = min(short, at[i]-at[i-1])
	}
	t.Logf("after a RATE kiss at start: %d samples in 1 h, shortest interval %.0f s, poll %d", len(at), short, r.Poll)
	if len(at) < 2 || short < 120 {
		t.Errorf("samples from the kissing server %.0f s apart (%d in 1 h), want >= 128 s", short, len(at))
	}
}

// However noisy the link, skewPoll polls sooner only during a source's
// first samples (skewPollSamples, 16): then minpoll holds.
func TestStartNoisyPollsSoonerOnlyAtFirst(t *testing.T) {
	s := lanSetup()
	s.link = clocktest.Link{Delay: 600 * time.Microsecond, Jitter: 4 * time.Millisecond}
	w := newWorld(t, s)
	id := w.ids[0]
	at := sampleTimes(w, id, time.Hour)
	soon := 0
	for i := 1; i < len(at); i++ {
		if d := at[i] - at[i-1]; d < 60 && at[i] > 20 {
			soon++
		}
	}
	t.Logf("%d samples in 1 h, %d of them less than 60 s after the previous (after the iburst)", len(at), soon)
	if soon == 0 || soon > 16 {
		t.Errorf("%d samples sooner than minpoll after the iburst, want 1–16", soon)
	}
}

// sampleTimes runs w for d and returns when source id's samples came
// (s since the start), seen each second as its LastRx falling.
func sampleTimes(w *world, id upstream.SourceID, d time.Duration) []float64 {
	var at []float64
	last := time.Duration(-1)
	w.Every = time.Second
	w.Observe = func(s *clocktest.Sim) {
		r := w.source(id)
		if r.LastRx >= 0 && (last < 0 || r.LastRx < last) {
			at = append(at, s.Elapsed())
		}
		last = r.LastRx
	}
	w.Run(d)
	w.Observe = nil
	return at
}
