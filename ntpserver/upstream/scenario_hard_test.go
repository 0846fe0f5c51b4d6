package upstream_test

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The hard scenarios: the simulator made as unkind as the lab and the
// field are (clocktest: frequency steps, temperature, TCG stalls,
// reading noise, kernel-capped slews, heavy-tailed and one-way late
// delays, transmit latency, two boxes that poll each other), each
// checked two ways: the box clock's true error after it settled, and a
// probe (a client with a perfect clock polling the box's real server
// path) that finds at least 99% of the synchronised replies inside the
// bound the box serves, |offset| <= rootdelay/2 + rootdisp + delay/2.
//
// The error limits are about 2–3 times what was measured (the figures
// are in the comments, seed 1), so that they do not flake yet would
// catch a real regression.

// hardSetup describes a hard scenario's LAN.
type hardSetup struct {
	seed    uint64
	clocks  []clocktest.ClockConfig // one box each, at 198.18.0.11, .12, ...
	servers int                     // upstream servers per box (shared), at 198.18.0.1, .2, ...
	link    clocktest.Link          // box to servers
	source  config.Source
	peers   bool           // boxes poll each other too (over peerLink)
	peerLnk clocktest.Link // box to box
	// linux: the engine sees the clock as a Linux clock (fast slews,
	// capped and quantised by the kernel).
	linux             bool
	txDelay, txJitter time.Duration
	probeEvery        time.Duration // default 16 s
	probeLink         clocktest.Link
	local             string // the `local` directive's arguments, if any
}

// hardDefaults are the baked config's: iburst, minpoll 6, maxpoll 10,
// makestep 0.1 3, serving, ticking every second as the daemon does; the
// clock 100 ppm fast and 0.3 s ahead at boot; three LAN servers.
func hardDefaults() hardSetup {
	return hardSetup{
		seed:      1,
		clocks:    []clocktest.ClockConfig{{Offset: 300 * time.Millisecond, FreqErr: 100, Wander: 0.001}},
		servers:   3,
		link:      clocktest.LAN,
		source:    config.Source{IBurst: true, MinPoll: 6, MaxPoll: 10, Port: 123},
		peerLnk:   clocktest.LAN,
		probeLink: clocktest.LAN,
	}
}

type hardBox struct {
	*clocktest.Box
	name    string
	probe   *clocktest.Probe
	servers []*clocktest.Server
	ids     []upstream.SourceID // servers, then peers
	errs    *clocktest.Stats
}

type hardLAN struct {
	*clocktest.Net
	boxes   []*hardBox
	servers []*clocktest.Server
}

func newHardLAN(t testing.TB, s hardSetup) *hardLAN {
	w := clocktest.NewWorld(clocktest.Start, s.seed)
	n := &hardLAN{Net: clocktest.NewNet(w)}
	var local *config.Local
	if s.local != "" {
		local = parseLocal(t, s.local)
	}
	for i := range s.servers {
		n.servers = append(n.servers, clocktest.NewServer(fmt.Sprintf("198.18.0.%d:123", i+1)))
	}
	for i, cc := range s.clocks {
		clk := w.NewClock(cc)
		var c clock.Clock = clk
		if s.linux {
			c = clk.Linux()
		}
		name := fmt.Sprintf("box%d", i)
		eng := upstream.NewEngine(upstream.Config{
			MakeStep:     &config.MakeStep{Threshold: 0.1, Limit: 3},
			ClockControl: true,
			Precision:    -24,
			HasSources:   true,
			Serving:      true,
			Tick:         time.Second,
			Local:        local,
		}, c, slog.New(newRecorder(slog.LevelWarn)).With("box", name))
		b := &hardBox{Box: n.AddBox(boxAddr(i).String(), clk, eng), name: name, errs: &clocktest.Stats{}}
		b.Tick = time.Second
		b.TxDelay, b.TxJitter = s.txDelay, s.txJitter
		n.boxes = append(n.boxes, b)
	}
	for _, b := range n.boxes {
		for _, srv := range n.servers {
			b.ids = append(b.ids, b.AddServer(srv, s.link, s.source))
			b.servers = append(b.servers, srv)
		}
		if s.peers {
			for _, p := range n.boxes {
				if p != b {
					b.ids = append(b.ids, b.AddBox(p.Box, s.peerLnk, s.source))
				}
			}
		}
	}
	every := s.probeEvery
	if every == 0 {
		every = 16 * time.Second
	}
	for _, b := range n.boxes {
		b.probe = n.AddProbe(b.Box, s.probeLink, every)
	}
	return n
}

// run advances the LAN by d; when observe is set, each box's clock
// error is recorded every second.
func (n *hardLAN) run(d time.Duration, observe bool) {
	n.Every, n.Observe = 0, nil
	if observe {
		n.Every = time.Second
		n.Observe = func(*clocktest.Net) {
			for _, b := range n.boxes {
				b.errs.Add(b.Clock.ErrorSeconds())
			}
		}
	}
	n.Run(d)
	n.Observe = nil
}

// check asserts each box's true error (p95, max) after settling, and
// the probe's in-bound share of synchronised replies since true time
// since, and logs the figures.
func (n *hardLAN) check(t *testing.T, since float64, p95, maxErr float64) {
	t.Helper()
	for _, b := range n.boxes {
		ps := b.probe.Stats(since)
		t.Logf("%s: true error p50 %s p95 %s p99 %s max %s (%d s); probe: %d replies, %d synchronised, %.2f%% in bound (worst excess %s), |offset| p50 %s p95 %s p99 %s max %s",
			b.name, us(b.errs.Percentile(50)), us(b.errs.Percentile(95)), us(b.errs.Percentile(99)), us(b.errs.MaxAbs), b.errs.N,
			ps.Replies, ps.Synced, 100*ps.InBoundShare(), us(ps.WorstExcess), us(ps.P50), us(ps.P95), us(ps.P99), us(ps.Max))
		if b.errs.N == 0 {
			t.Errorf("%s: no error observed", b.name)
		}
		if e := b.errs.Percentile(95); e > p95 {
			t.Errorf("%s: true error p95 %s, want <= %s", b.name, us(e), us(p95))
		}
		if e := b.errs.MaxAbs; e > maxErr {
			t.Errorf("%s: true error max %s, want <= %s", b.name, us(e), us(maxErr))
		}
		if ps.Synced < ps.Replies/2 || ps.Synced == 0 {
			t.Errorf("%s: only %d of %d probe replies synchronised", b.name, ps.Synced, ps.Replies)
		}
		if sh := ps.InBoundShare(); sh < 0.99 {
			t.Errorf("%s: %.2f%% of synchronised replies inside the served bound, want >= 99%%", b.name, 100*sh)
		}
	}
}

// sourcesUsed asserts that every server source of every box is
// reachable and used (selected or combined) and that its good replies
// grew since before (one count per box and source).
func (n *hardLAN) goodRx() [][]int {
	var out [][]int
	for _, b := range n.boxes {
		var row []int
		for _, r := range b.Engine.Sources() {
			row = append(row, r.GoodRx)
		}
		out = append(out, row)
	}
	return out
}

func (n *hardLAN) sourcesUsed(t *testing.T, before [][]int, minNew int, when string) {
	t.Helper()
	for i, b := range n.boxes {
		for j, r := range b.Engine.Sources() {
			if j >= len(b.servers) {
				continue
			}
			if r.Reach == 0 || (r.State != "*" && r.State != "+") || r.GoodRx-before[i][j] < minNew {
				t.Errorf("%s %s: %s: state %q reach %o, %d good replies (%d before), want used and at least %d more",
					b.name, r.Name, when, r.State, r.Reach, r.GoodRx, before[i][j], minNew)
			}
		}
	}
}

const hour = 3600

// A temperature cycle of ±5 ppm over 24 h, run over its steepest
// 6 hours (from the zero crossing on).
func TestHardTemperature(t *testing.T) {
	s := hardDefaults()
	s.clocks[0].TempAmplitude, s.clocks[0].TempPeriod = 5, 24*time.Hour
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(6*time.Hour, true)
	// Measured (2026-12-05): p95 34.1 µs, max 49.9 µs; 100% in bound
	// (p95 63.1 µs, max 94.9 µs when only the selected source's samples
	// updated the clock).
	n.check(t, hour, 100e-6, 120e-6)
}

// A QEMU TCG guest: the clock stalls 6 times an hour for 50–500 ms and
// then jumps to catch up; its readings also carry 5 µs of noise.
func TestHardStalls(t *testing.T) {
	s := hardDefaults()
	s.clocks[0].StallRate, s.clocks[0].StallMin, s.clocks[0].StallMax = 6, 50*time.Millisecond, 500*time.Millisecond
	s.clocks[0].ReadNoise = 5 * time.Microsecond
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(6*time.Hour, true)
	t.Logf("%d stalls seen", n.boxes[0].Clock.Stalls())
	// Measured (2026-12-05): p95 51.5 µs, max 60.3 µs (the clock's own error: the
	// stalls themselves are up to 500 ms); 99.85% in bound, the
	// replies outside being those served during a stall.
	n.check(t, hour, 100e-6, 150e-6)
}

// Heavy-tailed queueing (Pareto, shape 1.5, scale 50 µs: mean 100 µs,
// one delay in a thousand above 5 ms), a fixed asymmetry of 200 µs, and
// one reply in 50 late by 10–50 ms.
func TestHardHeavyTails(t *testing.T) {
	s := hardDefaults()
	s.link = clocktest.Link{
		Delay: 200 * time.Microsecond, Asymmetry: 200 * time.Microsecond,
		ParetoScale: 50 * time.Microsecond, ParetoShape: 1.5,
		Late: clocktest.Late{Prob: 0.02, Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, Dir: clocktest.Reply},
	}
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(6*time.Hour, true)
	// Measured (2026-12-05): p95 136.6 µs, max 147.3 µs, of which
	// 100 µs is half the asymmetry, which no NTP client can see; 100% in
	// bound (p95 114.9 µs, max 127.3 µs when only the selected source's
	// samples updated the clock).
	n.check(t, hour, 250e-6, 300e-6)
}

// A box as the kernel really is: requests leave 30 µs plus an
// exponential 100 µs after the engine read their transmit time, each
// clock reading is off by 10 µs (sd), and the engine slews fast, which
// the kernel caps at 83333 ppm, quantises and applies at its next tick
// (250 Hz).
func TestHardKernel(t *testing.T) {
	s := hardDefaults()
	s.clocks[0].Offset = 80 * time.Millisecond // under makestep: slewed
	s.clocks[0].ReadNoise = 10 * time.Microsecond
	s.clocks[0].KernelHZ = 250
	s.linux = true
	s.txDelay, s.txJitter = 30*time.Microsecond, 100*time.Microsecond
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(6*time.Hour, true)
	// Measured (2026-12-05): p95 115.5 µs, max 133.9 µs (half the mean
	// transmit latency, 65 µs, is a bias no client can see); 100% in
	// bound. When only the selected source's samples updated the clock:
	// p95 59.1 µs, max 63.6 µs. Updating on every combined sample costs
	// here what it gains with the temperature cycle.
	n.check(t, hour, 200e-6, 250e-6)
}

// Two boxes that see each other: each polls the other and two upstream
// servers.
func TestHardTwoBoxes(t *testing.T) {
	s := hardDefaults()
	s.servers = 2
	s.peers = true
	s.clocks = twoBoxes()
	n := newHardLAN(t, s)
	n.run(time.Hour, false)
	n.run(6*time.Hour, true)
	// Measured (2026-12-05): box0 p95 44.4 µs, max 83.3 µs; box1 p95
	// 61.2 µs, max 78.6 µs; 100% in bound on both.
	n.check(t, hour, 100e-6, 150e-6)
}

// Holdover: a day without sources after an hour of synchronisation,
// over 20 seeds, with `local stratum 10` (not orphan: see local.go). The
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
		s.local = "stratum 10"
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
