package clocktest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The Pareto queueing delay has the tail its formula says, far heavier
// than the exponential jitter of the same mean.
func TestLinkParetoTail(t *testing.T) {
	const n = 400000
	rng := rand.New(rand.NewPCG(1, 2))
	scale, shape := 50e-6, 1.5 // mean 100 µs
	pareto := Link{ParetoScale: 50 * time.Microsecond, ParetoShape: shape}
	expo := Link{Jitter: 100 * time.Microsecond}
	var pOver, eOver, pSum float64
	const x = 5e-3
	for range n {
		d := pareto.oneWay(rng, Reply)
		pSum += d
		if d > x {
			pOver++
		}
		if expo.oneWay(rng, Reply) > x {
			eOver++
		}
	}
	want := math.Pow(1+x/scale, -shape) // 9.85e-4
	if got := pOver / n; math.Abs(got-want) > 0.15*want {
		t.Errorf("P(delay > 5 ms) = %.2e, want %.2e", got, want)
	}
	if eOver != 0 {
		t.Errorf("exponential jitter of the same mean went past 5 ms %v times", eOver)
	}
	// The mean converges slowly for shape 1.5: within 20%.
	if m := pSum / n; math.Abs(m-100e-6) > 20e-6 {
		t.Errorf("mean Pareto delay %.1f µs, want about 100", m*1e6)
	}
}

// Late packets come in one direction only, at the configured rate and
// within the configured range; asymmetry goes to requests.
func TestLinkLateOneDirection(t *testing.T) {
	const n = 100000
	rng := rand.New(rand.NewPCG(1, 3))
	l := Link{Delay: time.Millisecond, Asymmetry: 200 * time.Microsecond,
		Late: Late{Prob: 0.02, Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, Dir: Reply}}
	late := 0
	for range n {
		if d := l.oneWay(rng, Request); math.Abs(d-1.2e-3) > 1e-12 {
			t.Fatalf("request took %v s, want exactly 1.2 ms", d)
		}
		d := l.oneWay(rng, Reply)
		switch {
		case math.Abs(d-1e-3) < 1e-12:
		case d >= 11e-3 && d <= 51e-3:
			late++
		default:
			t.Fatalf("reply took %v s", d)
		}
	}
	if share := float64(late) / n; math.Abs(share-0.02) > 0.002 {
		t.Errorf("%.4f of replies late, want 0.02", share)
	}
}

// Frequency steps change the rate from their instant on, exactly,
// however the time in between is read.
func TestClockFreqSteps(t *testing.T) {
	w := NewWorld(Start, 1)
	c := w.NewClock(ClockConfig{FreqErr: 10, FreqSteps: []FreqStep{{At: 150, PPM: -20}, {At: 100, PPM: 20}}})
	w.t = 50
	c.Now()
	w.t = 300 // one interval across both steps
	want := 10e-6*300 + 20e-6*200 - 20e-6*150
	if e := c.ErrorSeconds(); math.Abs(e-want) > 1e-12 {
		t.Errorf("error %v, want %v", e, want)
	}
	if f := c.FreqError(); f != 10 {
		t.Errorf("frequency error %v after both steps, want 10", f)
	}
}

// The temperature cycle's sine is integrated exactly: one long interval
// gives what many short ones give, and a quarter period adds A·P/2π.
func TestClockTemperature(t *testing.T) {
	cfg := ClockConfig{TempAmplitude: 5, TempPeriod: 24 * time.Hour}
	w1, w2 := NewWorld(Start, 1), NewWorld(Start, 1)
	c1, c2 := w1.NewClock(cfg), w2.NewClock(cfg)
	for i := 1; i <= 21600; i += 7 {
		w2.t = float64(i)
		c2.Now()
	}
	w1.t, w2.t = 21600, 21600
	want := 5e-6 * 86400 / (2 * math.Pi) // 68.75 ms
	if e1, e2 := c1.ErrorSeconds(), c2.ErrorSeconds(); math.Abs(e1-want) > 1e-9 || math.Abs(e2-want) > 1e-9 {
		t.Errorf("error after 6 h: %v in one step, %v in many, want %v", e1, e2, want)
	}
	if f := c1.FreqError(); math.Abs(f-5) > 1e-9 {
		t.Errorf("frequency error at the peak %v ppm", f)
	}
	w1.t = 43200
	if f := c1.FreqError(); math.Abs(f) > 1e-9 {
		t.Errorf("frequency error after half a period %v ppm", f)
	}
	if e := c1.ErrorSeconds(); math.Abs(e-2*want) > 1e-9 {
		t.Errorf("error after 12 h %v, want %v", e, 2*want)
	}
}

// In a stall readings stand still at the time the stall began, then the
// clock jumps to where it would have been; the clock's error (Error)
// does not see the stall.
func TestClockStall(t *testing.T) {
	w := NewWorld(Start, 1)
	c := w.NewClock(ClockConfig{FreqErr: 50, StallRate: 60, StallMin: 50 * time.Millisecond, StallMax: 500 * time.Millisecond})
	var stalls []float64 // lengths seen
	var in float64       // true time a stall began (frozen readings), 0 outside
	prev := c.Now()
	const dt = 1e-3
	for i := 1; i <= 3600*1000; i++ {
		w.t = float64(i) * dt
		now := c.Now()
		exact := c.exactNow()
		switch {
		case c.Stalled():
			if in == 0 {
				in = w.t
			} else if !now.Equal(prev) {
				t.Fatalf("reading moved in a stall at %v", w.t)
			}
			if !now.Before(exact) {
				t.Fatalf("stalled reading not behind the clock at %v", w.t)
			}
		default:
			if in != 0 {
				stalls = append(stalls, w.t-in)
				in = 0
			}
			if d := now.Sub(exact); d != 0 {
				t.Fatalf("outside a stall, reading %v off the clock", d)
			}
		}
		if d := exact.Sub(w.Now()).Seconds() - c.ErrorSeconds(); math.Abs(d) > 1e-9 {
			t.Fatalf("Error %v off the clock's time", d)
		}
		prev = now
	}
	// 60 an hour: Poisson, so 40 to 80.
	if len(stalls) < 40 || len(stalls) > 80 || c.Stalls() < len(stalls) {
		t.Errorf("%d stalls seen (%d counted) in an hour at 60 an hour", len(stalls), c.Stalls())
	}
	for _, s := range stalls {
		if s < 0.049 || s > 0.501 {
			t.Errorf("stall of %.3f s, want 50 to 500 ms", s)
		}
	}
	if e := c.ErrorSeconds(); math.Abs(e-50e-6*3600) > 1e-9 {
		t.Errorf("error after an hour %v: stalls must not change it", e)
	}
}

// Reading noise is normal with the configured sd, each reading on its
// own, and leaves the clock's error alone.
func TestClockReadNoise(t *testing.T) {
	w := NewWorld(Start, 1)
	c := w.NewClock(ClockConfig{Offset: time.Millisecond, ReadNoise: 10 * time.Microsecond})
	var st Stats
	for i := range 20000 {
		w.t = float64(i)
		st.Add(c.Now().Sub(w.Now()).Seconds() - 1e-3)
		if c.Error() != time.Millisecond {
			t.Fatalf("clock error %v", c.Error())
		}
	}
	if sd := st.RMS(); math.Abs(sd-10e-6) > 0.5e-6 {
		t.Errorf("reading noise sd %.2f µs, want 10", sd*1e6)
	}
}

// A Linux clock takes fast slews, capped at chrony's 83333 ppm and set
// as tick plus 2⁻¹⁶ ppm frequency units; with KernelHZ a change waits
// for the next tick.
func TestLinuxClockSlew(t *testing.T) {
	w := NewWorld(Start, 1)
	lc := w.NewClock(ClockConfig{KernelHZ: 250}).Linux()
	var _ clock.FastSlewer = lc
	lc.SetFrequency(1e6)
	if f, _ := lc.Frequency(); math.Abs(f-clock.MaxSlewRate) > 1e-4 {
		t.Errorf("correction %v, want capped to %v", f, clock.MaxSlewRate)
	}
	lc.SetFrequency(123.456789)
	if f, _ := lc.Frequency(); f != 100+math.Round(23.456789*65536)/65536 {
		t.Errorf("correction %v, want tick and 2⁻¹⁶ units", f)
	}
	// At 250 Hz the 83333 ppm set at t=0.001 applies from t=0.004.
	w.t = 0.001
	lc.SetFrequency(83333.3)
	w.t = 1.004
	want := 83333.3e-6 * 1
	if e := lc.ErrorSeconds(); math.Abs(e-want) > 2e-6 {
		t.Errorf("error %v after a second of slew from the next tick, want %v", e, want)
	}
	w.t = 1.005
	lc.SetFrequency(0) // applies at 1.008: 3 ms more of the slew
	w.t = 2
	want += 83333.3e-6 * 0.004
	if e := lc.ErrorSeconds(); math.Abs(e-want) > 2e-6 {
		t.Errorf("error %v after the slew ended, want %v", e, want)
	}
}

// The transmit latency delays the request after the engine read T1:
// with a clean link the engine measures half of it as offset.
func TestTxLatency(t *testing.T) {
	w := NewWorld(Start, 1)
	clk := w.NewClock(ClockConfig{})
	eng := upstream.NewEngine(upstream.Config{Precision: -24, HasSources: true}, clock.NewNoControl(clk), nil)
	sim := NewSim(w, clk, eng)
	sim.TxDelay = 4 * time.Millisecond
	srv := NewServer("198.18.0.1:123")
	srv.ProcTime = 0
	sim.AddServer(srv, Link{Delay: time.Millisecond}, config.Source{MinPoll: 4, MaxPoll: 4})
	sim.Run(time.Second) // one sample: the engine has corrected nothing yet
	r := eng.Sources()[0]
	// The server's time is 2 ms later than the engine thinks it
	// sent, the reply takes 1 ms: offset ((1+4)-1)/2 = 2 ms.
	if d := r.MeasuredOffset + 2*time.Millisecond; d.Abs() > time.Microsecond {
		t.Errorf("measured offset %v, want -2 ms (the clock looks 2 ms behind)", r.MeasuredOffset)
	}
}

// A probe measures a box's served time against true time NTP-style,
// through the box's server: a box 1 ms ahead serving its local clock,
// over a link 300 µs slower one way.
func TestProbe(t *testing.T) {
	w := NewWorld(Start, 1)
	clk := w.NewClock(ClockConfig{Offset: time.Millisecond})
	local := &config.Local{Stratum: 5}
	eng := upstream.NewEngine(upstream.Config{Precision: -24, Local: local}, clk, nil)
	sim := NewSim(w, clk, eng)
	sim.ProcTime = 0
	p := sim.AddProbe(Link{Delay: 100 * time.Microsecond, Asymmetry: 30 * time.Microsecond}, 10*time.Second)
	sim.Run(time.Minute)
	if len(p.Replies) != 6 || p.Sent != 6 {
		t.Fatalf("%d replies to %d requests in a minute at one every 10 s", len(p.Replies), p.Sent)
	}
	r := p.Replies[0]
	if math.Abs(r.Offset-(1e-3+15e-6)) > 1e-8 || math.Abs(r.Delay-230e-6) > 1e-8 || math.Abs(r.RxError-1e-3) > 1e-8 {
		t.Errorf("reply %+v, want offset 1.015 ms, delay 230 µs, served 1 ms ahead", r)
	}
	if !r.Synced || r.InBound {
		t.Errorf("reply %+v: want synchronised, outside its bound of %v", r, r.Bound())
	}
	st := p.Stats(0)
	if st.Synced != 6 || st.InBoundShare() != 0 || math.Abs(st.P50-1.015e-3) > 1e-8 {
		t.Errorf("stats %+v", st)
	}
}
