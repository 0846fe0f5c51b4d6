package upstream

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
)

// line returns n samples of offset a + b·t every dt seconds, with
// Gaussian noise sd and a fixed delay.
func line(rng *rand.Rand, n int, dt, a, b, sd float64) []sample {
	ss := make([]sample, n)
	for i := range ss {
		t := float64(i) * dt
		off := a + b*t + sd*rng.NormFloat64()
		ss[i] = sample{t: t, offset: off, measured: off, delay: 200e-6, disp: 1e-6}
	}
	return ss
}

func TestRegressionRecoversLine(t *testing.T) {
	for _, tc := range []struct {
		name        string
		n           int
		dt, b, sd   float64
		maxSlopeErr float64 // ppm
	}{
		{"noiseless", 10, 64, 5e-6, 0, 1e-6},
		{"LAN noise, 16 samples at 64 s", 16, 64, 2e-6, 35e-6, 0.5},
		{"LAN noise, 32 samples at 1024 s", 32, 1024, -30e-6, 35e-6, 0.01},
		{"three samples of an iburst", 3, 2, 100e-6, 35e-6, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var st sourceStats
			for _, s := range line(rng, tc.n, tc.dt, 1e-3, tc.b, tc.sd) {
				st.add(s)
			}
			if !st.ok {
				t.Fatal("no regression")
			}
			if d := math.Abs(st.slope-tc.b) * 1e6; d > tc.maxSlopeErr {
				t.Errorf("slope %.4f ppm, want %.4f ± %.4f", st.slope*1e6, tc.b*1e6, tc.maxSlopeErr)
			}
			// The standard error should describe the actual error.
			if d := math.Abs(st.slope - tc.b); tc.sd > 0 && d > 4*st.skew {
				t.Errorf("slope error %.3g outside 4 × skew %.3g", d, st.skew)
			}
			tEnd := float64(tc.n-1) * tc.dt
			off, sd := st.predict(tEnd)
			want := 1e-3 + tc.b*tEnd
			if math.Abs(off-want) > max(4*sd, 1e-12) {
				t.Errorf("predicted offset %.3g ± %.3g, want %.3g", off, sd, want)
			}
			// The runs test (at 10 %) may drop a few old samples even
			// from a perfect line, but not below minKeep.
			if n := len(st.window()); n < min(tc.n, minKeep) {
				t.Errorf("window %d samples of %d", n, tc.n)
			}
		})
	}
}

// A frequency change makes the runs test drop the samples before it.
func TestRegressionRunsTestShortensWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var st sourceStats
	// 30 samples at +1 ppm, then 15 at -1 ppm (the oscillator changed).
	for _, s := range line(rng, 30, 64, 0, 1e-6, 5e-6) {
		st.add(s)
	}
	end := st.newest()
	for _, s := range line(rng, 16, 64, end.offset, -1e-6, 5e-6)[1:] {
		s.t += end.t
		st.add(s)
	}
	n := len(st.window())
	t.Logf("window %d samples, %d extra for the runs test, %d runs, slope %.3f ppm", n, st.extra, st.runs, st.slope*1e6)
	if n > 25 {
		t.Errorf("window kept %d samples across a frequency change", n)
	}
	if math.Abs(st.slope*1e6+1) > 0.2 {
		t.Errorf("slope %.3f ppm, want the new -1 ppm", st.slope*1e6)
	}
	if st.extra > n*(runsRatio-1) {
		t.Errorf("%d extra samples for a window of %d", st.extra, n)
	}
}

func TestStatsAdjust(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var st sourceStats
	for _, s := range line(rng, 10, 64, 2e-3, 3e-6, 0) {
		st.add(s)
	}
	now := 640.0
	before, _ := st.predict(now)
	// The cooked clock moves 1 ms forward and speeds up by 3 ppm: the
	// source now appears 1 ms closer with no residual frequency.
	st.adjust(now, 1e-3, 3)
	after, _ := st.predict(now + 1e-3)
	if math.Abs(after-(before-1e-3)) > 1e-9 {
		t.Errorf("offset after adjust %.9f, want %.9f", after, before-1e-3)
	}
	if math.Abs(st.slope) > 1e-12 {
		t.Errorf("slope after adjust %.3g, want 0", st.slope)
	}
}

func TestDelayTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var st sourceStats
	for _, s := range line(rng, 12, 64, 0, 0, 10e-6) {
		st.add(s)
	}
	ok := sample{t: 12 * 64, offset: 0, delay: 210e-6}
	queued := sample{t: 12 * 64, offset: 150e-6, delay: 2e-3} // 1.8 ms stuck in a queue
	moved := sample{t: 12 * 64, offset: 20e-3, delay: 2e-3}   // offset moved far more than the delay
	if !st.delayOK(&ok) {
		t.Error("normal delay rejected")
	}
	if st.delayOK(&queued) {
		t.Error("queued sample accepted")
	}
	if !st.delayOK(&moved) {
		t.Error("sample whose offset moved more than its delay rejected")
	}
}

// A lone spike with a long delay (a packet queued behind a burst) gets
// little weight and moves the prediction little; a source that steps is
// followed once the runs test has dropped the samples before the step.
func TestSpikeAndStep(t *testing.T) {
	e := &Engine{log: slog.New(slog.DiscardHandler)}
	rng := rand.New(rand.NewPCG(9, 10))
	s := &source{name: "test"}
	for _, sm := range line(rng, 10, 64, 0, 0, 20e-6) {
		e.accept(s, sm)
	}
	at := func(i int, off, delay float64) sample {
		return sample{t: float64(i) * 64, offset: off, delay: delay, disp: 1e-6}
	}
	e.accept(s, at(10, 5e-3, 10e-3))
	if off, _ := s.stats.predict(11 * 64); math.Abs(off) > 200e-6 {
		t.Errorf("a 5 ms spike with a 10 ms delay moved the prediction to %.1f us", off*1e6)
	}
	for i := 11; i < 30; i++ {
		e.accept(s, at(i, 3600+rng.NormFloat64()*20e-6, 200e-6))
	}
	if off, _ := s.stats.predict(30 * 64); math.Abs(off-3600) > 1e-3 {
		t.Errorf("19 samples after a 1 h step the prediction is %.6f s", off)
	}
}

// After a frequency change, every new sample is an outlier to the old
// line and none agrees with the one before: the source must still be
// followed, not held back forever (the filter that got stuck).
func TestOutliersNeverStickASource(t *testing.T) {
	e := &Engine{log: slog.New(slog.DiscardHandler)}
	rng := rand.New(rand.NewPCG(11, 12))
	s := &source{name: "test"}
	for _, sm := range line(rng, 16, 64, 0, 0, 20e-6) {
		e.accept(s, sm)
	}
	// From here the source runs 130 ppm fast against our clock: at 64 s
	// polls each sample is 8.3 ms further than the last.
	accepted := 0
	for i := 16; i < 40; i++ {
		dt := float64(i-15) * 64
		sm := sample{t: float64(i) * 64, offset: 130e-6 * dt, delay: 200e-6, disp: 1e-6}
		sm.measured = sm.offset
		if e.accept(s, sm) {
			accepted++
		}
	}
	if accepted < 12 {
		t.Errorf("%d of 24 samples accepted after the frequency change", accepted)
	}
	end := 39.0 * 64
	off, _ := s.stats.predict(end)
	if want := 130e-6 * (end - 15*64); math.Abs(off-want) > 100e-6 {
		t.Errorf("prediction %.6f s at the end, want %.6f: the regression does not follow", off, want)
	}
	if math.Abs(s.stats.slope-130e-6) > 2e-6 {
		t.Errorf("slope %.2f ppm, want 130", s.stats.slope*1e6)
	}
}

// fixedClock is a clock.Clock that reads t and ignores adjustments.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time               { return c.t }
func (c *fixedClock) Step(time.Duration) error     { return nil }
func (c *fixedClock) SetFrequency(float64) error   { return nil }
func (c *fixedClock) Frequency() (float64, error)  { return 0, nil }
func (c *fixedClock) SetStatus(clock.Status) error { return nil }

// Sent moves the request's T1 to when it really left (the kernel's
// transmit timestamp), and only forward, by at most a second.
func TestSentMovesT1(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC)
	clk := &fixedClock{t: t0}
	e := NewEngine(Config{Precision: -20}, clock.NewNoControl(clk), slog.New(slog.DiscardHandler))
	id := e.AddSource("198.18.0.1", netip.MustParseAddrPort("198.18.0.1:123"), config.Source{MinPoll: 6, MaxPoll: 10})
	buf := make([]byte, 48)
	if e.Transmit(id, t0, buf) == 0 {
		t.Fatal("no request")
	}
	s := e.source(id)
	e.Sent(id, t0.Add(-time.Millisecond))
	if !s.t1.Equal(t0) {
		t.Errorf("T1 moved back to %v", s.t1)
	}
	e.Sent(id, t0.Add(2*time.Second))
	if !s.t1.Equal(t0) {
		t.Errorf("T1 moved by 2 s to %v", s.t1)
	}
	late := t0.Add(350 * time.Microsecond)
	e.Sent(id, late)
	if !s.t1.Equal(late) {
		t.Errorf("T1 %v, want the transmit timestamp %v", s.t1, late)
	}
}
