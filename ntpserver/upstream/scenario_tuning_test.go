package upstream_test

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// chrony's selection and clock directives and the source measurement
// options change what the engine does. Each case runs the LAN scenario
// with the setting and without it (chrony's default), and checks the
// difference the setting must make.
func TestTuningDirectives(t *testing.T) {
	type world2 struct{ with, without *world }
	for _, tc := range []struct {
		name    string
		servers int
		tune    func(*config.Tuning)
		src     func(i int, s *config.Source)
		srv     func(i int, s *clocktest.Server)
		clk     func(c *clocktest.ClockConfig)
		run     time.Duration
		observe func(w *world) func(*clocktest.Sim) // optional, per world
		check   func(t *testing.T, w world2)
	}{
		{
			name: "maxdistance rejects distant sources", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxDistance = 0.01 },
			srv:  func(i int, s *clocktest.Server) { s.RootDisp = 20 * time.Millisecond },
			check: func(t *testing.T, w world2) {
				if st := w.with.Engine.SyncState(); st.Synchronised() {
					t.Errorf("maxdistance 0.01 with 20 ms root dispersion: synchronised %s", describe(st))
				}
				if st := w.without.Engine.SyncState(); !st.Synchronised() {
					t.Errorf("default maxdistance: %s", describe(st))
				}
			},
		},
		{
			name: "maxjitter marks jittery sources", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxJitter = 1e-6 },
			check: func(t *testing.T, w world2) {
				for i, r := range w.with.Engine.Sources() {
					if r.State != "~" {
						t.Errorf("maxjitter 1 µs: source %d state %q, want ~", i, r.State)
					}
				}
				if st := w.without.Engine.SyncState(); !st.Synchronised() {
					t.Errorf("default maxjitter: %s", describe(st))
				}
			},
		},
		{
			name: "combinelimit 0 combines nothing", servers: 3,
			tune: func(tu *config.Tuning) { tu.CombineLimit = 0 },
			check: func(t *testing.T, w world2) {
				count := func(w *world, state string) int {
					n := 0
					for _, r := range w.Engine.Sources() {
						if r.State == state {
							n++
						}
					}
					return n
				}
				if n := count(w.with, "+"); n != 0 || count(w.with, "-") != 2 {
					t.Errorf("combinelimit 0: %d combined, %d not", n, count(w.with, "-"))
				}
				if n := count(w.without, "+"); n == 0 {
					t.Errorf("default combinelimit: nothing combined")
				}
			},
		},
		{
			name: "stratumweight prefers the lower stratum", servers: 2,
			tune: func(tu *config.Tuning) { tu.StratumWeight = 0.05 },
			srv: func(i int, s *clocktest.Server) {
				if i == 0 { // stratum 1 but 20 ms farther
					s.RootDelay = 40 * time.Millisecond
				} else {
					s.Stratum = 2
				}
			},
			check: func(t *testing.T, w world2) {
				if r := w.with.Engine.Sources(); r[0].State != "*" {
					t.Errorf("stratumweight 0.05: states %q %q, want the stratum-1 source", r[0].State, r[1].State)
				}
				if r := w.without.Engine.Sources(); r[1].State != "*" {
					t.Errorf("default stratumweight: states %q %q, want the closer stratum-2 source", r[0].State, r[1].State)
				}
			},
		},
		{
			name: "maxclockerror sets how fast the bound grows", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxClockError = 20 },
			check: func(t *testing.T, w world2) {
				a, b := w.with.Engine.SyncState().DispRate, w.without.Engine.SyncState().DispRate
				if a < 20e-6 || b >= 20e-6 || b < 1e-6 {
					t.Errorf("dispersion rate %.2f µs/s with maxclockerror 20, %.2f µs/s with the default 1", a*1e6, b*1e6)
				}
			},
		},
		{
			name: "maxdrift bounds the frequency", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxDrift = 40 },
			check: func(t *testing.T, w world2) {
				if f := w.with.Engine.Frequency(); math.Abs(f) > 40.001 {
					t.Errorf("maxdrift 40: frequency %.2f ppm", f)
				}
				if f := w.without.Engine.Frequency(); math.Abs(f-100) > 1 {
					t.Errorf("default maxdrift: frequency %.2f ppm, want the clock's 100", f)
				}
			},
		},
		{
			name: "maxupdateskew keeps uncertain frequencies out", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxUpdateSkew = 1e-4 },
			check: func(t *testing.T, w world2) {
				if f := w.with.Engine.Frequency(); math.Abs(f) > 1e-9 {
					t.Errorf("maxupdateskew 1e-4: frequency %.3f ppm, want never updated", f)
				}
				if f := w.without.Engine.Frequency(); math.Abs(f-100) > 1 {
					t.Errorf("default maxupdateskew: frequency %.2f ppm", f)
				}
			},
		},
		{
			name: "maxslewrate bounds the slew", servers: 2,
			tune: func(tu *config.Tuning) { tu.MaxSlewRate = 200 },
			clk:  func(c *clocktest.ClockConfig) { c.Offset = 50 * time.Millisecond }, // under makestep's 0.1 s: slewed
			observe: func(w *world) func(*clocktest.Sim) {
				return func(s *clocktest.Sim) {
					f, _ := s.Clock.Frequency()
					w.maxFreq = max(w.maxFreq, math.Abs(f))
				}
			},
			check: func(t *testing.T, w world2) {
				if w.with.maxFreq > 200 || w.without.maxFreq < 400 {
					t.Errorf("largest kernel frequency %.1f ppm with maxslewrate 200, %.1f without", w.with.maxFreq, w.without.maxFreq)
				}
			},
		},
		{
			name: "maxsamples bounds the window", servers: 1,
			tune: func(tu *config.Tuning) { tu.MaxSamples = 5 },
			src:  func(i int, s *config.Source) { s.MinPoll, s.MaxPoll = 4, 4 },
			check: func(t *testing.T, w world2) {
				if n := w.with.Engine.Sources()[0].NP; n > 5 {
					t.Errorf("maxsamples 5: %d samples", n)
				}
				if n := w.without.Engine.Sources()[0].NP; n <= 5 {
					t.Errorf("default maxsamples: %d samples", n)
				}
			},
		},
		{
			name: "maxdelay rejects every sample of a longer path", servers: 2,
			src: func(i int, s *config.Source) { s.MaxDelay = 150e-6 }, // the LAN's round trip is 200 µs and more
			check: func(t *testing.T, w world2) {
				if st := w.with.Engine.SyncState(); st.Synchronised() {
					t.Errorf("maxdelay 150 µs on a 200 µs path: %s", describe(st))
				}
				if st := w.without.Engine.SyncState(); !st.Synchronised() {
					t.Errorf("default maxdelay: %s", describe(st))
				}
			},
		},
		{
			name: "offset corrects every measurement", servers: 2,
			src: func(i int, s *config.Source) { s.Offset = 5e-3 },
			check: func(t *testing.T, w world2) {
				if e := w.with.Clock.ErrorSeconds(); math.Abs(e-5e-3) > 200e-6 {
					t.Errorf("offset 0.005: clock error %s, want 5 ms ahead", us(e))
				}
				if e := w.without.Clock.ErrorSeconds(); math.Abs(e) > 200e-6 {
					t.Errorf("no offset: clock error %s", us(e))
				}
			},
		},
		{
			name: "minstratum raises the source's stratum", servers: 2,
			src: func(i int, s *config.Source) { s.MinStratum = 5 },
			check: func(t *testing.T, w world2) {
				if st := w.with.Engine.SyncState(); st.Stratum != 6 {
					t.Errorf("minstratum 5: serving %s, want stratum 6", describe(st))
				}
				if st := w.without.Engine.SyncState(); st.Stratum != 2 {
					t.Errorf("default: serving %s", describe(st))
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func(with bool) *world {
				s := lanSetup()
				s.servers = tc.servers
				s.source = config.DefaultSource(false)
				s.source.IBurst = true
				s.cfg.Tuning = config.DefaultTuning()
				if tc.clk != nil {
					tc.clk(&s.clock)
				}
				s.perServer = tc.srv
				if with {
					if tc.tune != nil {
						tc.tune(&s.cfg.Tuning)
					}
					s.perSource = tc.src
				}
				if tc.src != nil && !with {
					// The same polls without the measured option.
					base := config.DefaultSource(false)
					s.perSource = func(i int, src *config.Source) {
						tc.src(i, src)
						src.MaxDelay, src.Offset, src.MinStratum = base.MaxDelay, base.Offset, base.MinStratum
					}
				}
				w := newWorld(t, s)
				if tc.observe != nil {
					w.Every = time.Second
					w.Observe = tc.observe(w)
				}
				run := tc.run
				if run == 0 {
					run = 2 * time.Hour
				}
				w.Run(run)
				return w
			}
			tc.check(t, world2{with: mk(true), without: mk(false)})
		})
	}
}

// `version 3` sends NTPv3 requests.
func TestVersionOption(t *testing.T) {
	w := clocktest.NewWorld(clocktest.Start, 1)
	eng := upstream.NewEngine(upstream.Config{Precision: -20}, clock.NewNoControl(w.NewClock(clocktest.ClockConfig{})), nil)
	for _, v := range []int{3, 4} {
		src := config.DefaultSource(false)
		src.Version = v
		id := eng.AddSource("198.18.0.1", netip.MustParseAddrPort("198.18.0.1:123"), src)
		buf := make([]byte, wire.HeaderLen)
		if eng.Transmit(id, w.Now(), buf) == 0 {
			t.Fatal("no request")
		}
		if got := int(buf[0]>>3) & 7; got != v {
			t.Errorf("version %d: request has version %d", v, got)
		}
		eng.RemoveSource(id)
	}
}

// Asymmetric jitter: every request (none of the replies) waits an extra
// 0 to 4 ms, as behind a saturated uplink, so a longer delay comes with
// an offset shifted by half of it, and the shortest delays are rare. chrony's default estimates that asymmetry and corrects each
// offset to the minimum delay; `asymmetry 0.5` fixes it; `asymmetry 0`
// takes the offsets as measured. After an hour of 64 s polls (enough
// regressions for the estimate to take over), the corrected clocks are
// closer to the truth.
func TestAsymmetryOption(t *testing.T) {
	run := func(asym float64) float64 {
		s := lanSetup()
		s.servers = 1
		s.source = config.DefaultSource(false)
		s.source.IBurst = true
		s.source.Asymmetry = asym
		s.cfg.Tuning = config.DefaultTuning()
		s.link.Late = clocktest.Late{Prob: 1, Min: 0, Max: 4 * time.Millisecond, Dir: clocktest.Request}
		w := newWorld(t, s)
		w.Run(time.Hour)
		return w.errorStats(2 * time.Hour).RMS()
	}
	off, estimated, fixed := run(0), run(config.DefaultAsymmetry), run(0.5)
	t.Logf("RMS error: asymmetry 0 %s, estimated %s, asymmetry 0.5 %s", us(off), us(estimated), us(fixed))
	if estimated > 0.7*off || fixed > 0.7*off {
		t.Errorf("the asymmetry correction does not help: RMS error %s with it estimated, %s fixed at 0.5, %s without",
			us(estimated), us(fixed), us(off))
	}
}

// `presend 6` at a 64 s poll: each poll after the iburst is a pair of
// requests 2 s apart, and only the second reply is a sample: as many
// good replies as without presend, but twice the valid ones.
func TestPresendOption(t *testing.T) {
	run := func(presend int) (gaps []float64, good, valid int, err float64) {
		s := oneSourceSetup(6)
		s.source.Presend = presend
		var at []float64
		s.perServer = func(i int, srv *clocktest.Server) {
			srv.Up = func(t float64) bool { at = append(at, t); return true }
		}
		w := newWorld(t, s)
		w.Run(time.Hour)
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i]-at[i-1])
		}
		r := w.Engine.Sources()[0]
		return gaps, r.GoodRx, r.ValidRx, w.Clock.ErrorSeconds()
	}
	count := func(gaps []float64, lo, hi float64) int {
		n := 0
		for _, g := range gaps {
			if g >= lo && g <= hi {
				n++
			}
		}
		return n
	}
	with, goodWith, validWith, errWith := run(6)
	without, goodWithout, validWithout, errWithout := run(config.DefaultPresend)
	short, long := count(with[4:], 1.9, 2.1), count(with[4:], 63, 65)
	t.Logf("presend 6: %d requests, %d pairs 2 s apart, %d gaps of 64 s, %d valid replies, %d good, error %s; without: %d requests, %d valid, %d good, error %s",
		len(with)+1, short, long, validWith, goodWith, us(errWith), len(without)+1, validWithout, goodWithout, us(errWithout))
	if short < 50 || long < 50 || len(with) < 2*len(without)-10 {
		t.Errorf("presend 6 at a 64 s poll: %d requests (%d without), %d pairs 2 s apart, %d 64 s gaps", len(with)+1, len(without)+1, short, long)
	}
	if goodWith > goodWithout+1 || validWith < 2*goodWith-10 {
		t.Errorf("presend replies: %d valid, %d good (without presend: %d good)", validWith, goodWith, goodWithout)
	}
	if math.Abs(errWith) > 1e-3 {
		t.Errorf("error %s with presend", us(errWith))
	}
}

// `fallbackdrift 8 12`: the oscillator runs 5 ppm fast for the last ten
// minutes before both sources go away, and back at its usual frequency
// from then on (a heater that switched off). The last updates followed
// the swing, so without fallback drifts the clock keeps running 5 ppm
// off through the holdover. With them, after 2^12 s without an update
// the frequency is the average of the last ~68 minutes, mostly from
// before the swing, and the error grows much more slowly.
func TestFallbackDrift(t *testing.T) {
	const outage = 3 * 3600.0
	run := func(fb *config.FallbackDrift) (err, freq float64, synced bool, fallbacks int) {
		s := lanSetup()
		s.servers = 2
		s.source = config.DefaultSource(false)
		s.source.IBurst = true
		s.cfg.Tuning = config.DefaultTuning()
		s.cfg.Tuning.FallbackDrift = fb
		s.clock.FreqSteps = []clocktest.FreqStep{{At: outage - 600, PPM: 5}, {At: outage, PPM: -5}}
		s.perServer = func(i int, srv *clocktest.Server) { srv.Up = clocktest.Outage(outage, 1e12) }
		w := newWorld(t, s)
		w.Run(time.Duration(outage+3*3600) * time.Second)
		st := w.Engine.SyncState()
		return w.Clock.ErrorSeconds(), w.Engine.Frequency(), st.Synchronised(), w.logs.count("fallback drift")
	}
	errWith, freqWith, syncedWith, fallbacks := run(&config.FallbackDrift{Min: 8, Max: 12})
	errWithout, freqWithout, _, _ := run(nil)
	t.Logf("3 h into the outage: error %s with fallback drifts (frequency %.2f ppm), %s without (%.2f ppm)",
		us(errWith), freqWith, us(errWithout), freqWithout)
	if fallbacks == 0 {
		t.Errorf("no fallback drift was applied")
	}
	if syncedWith {
		t.Errorf("still synchronised after the fallback drift")
	}
	if math.Abs(errWith) > 0.5*math.Abs(errWithout) {
		t.Errorf("fallback drifts do not help: error %s with, %s without", us(errWith), us(errWithout))
	}
}

// `filter 4` at a 16 s poll: one sample in four polls reaches the
// statistics (the median of the four), and the clock keeps good time on
// a link where a quarter of the replies are 2-10 ms late. (There the
// statistics' own delay weighting does better without the filter: RMS
// 7 us against 34 us with it, so the test asks only for good time.)
func TestFilterOption(t *testing.T) {
	run := func(filter int) (samples int, rms float64) {
		s := oneSourceSetup(4)
		s.source.Filter = filter
		s.link.Late = clocktest.Late{Prob: 0.25, Min: 2 * time.Millisecond, Max: 10 * time.Millisecond, Dir: clocktest.Reply}
		w := newWorld(t, s)
		w.Run(time.Hour)
		rms = w.errorStats(time.Hour).RMS()
		for _, m := range w.logs.msgs {
			if m == "sample" || m == "sample held back" {
				samples++
			}
		}
		return samples, rms
	}
	with, rmsWith := run(4)
	without, rmsWithout := run(0)
	t.Logf("filter 4: %d samples, RMS error %s; no filter: %d samples, RMS error %s", with, us(rmsWith), without, us(rmsWithout))
	// Two hours of 16 s polls: 450, so about 112 combined samples.
	if with < 100 || with > 125 {
		t.Errorf("filter 4: %d samples reached the statistics in 450 polls, want about 112", with)
	}
	if rmsWith > 200e-6 {
		t.Errorf("filter 4: RMS error %s", us(rmsWith))
	}
}

// oneSourceSetup is the LAN with one server, polled with chrony's
// defaults and iburst at a fixed poll of 2^poll s.
func oneSourceSetup(poll int) setup {
	s := lanSetup()
	s.servers = 1
	s.source = config.DefaultSource(false)
	s.source.IBurst = true
	s.source.MinPoll, s.source.MaxPoll = poll, poll
	s.cfg.Tuning = config.DefaultTuning()
	return s
}
