package upstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// world is one simulated box: a clock, the engine, its servers.
type world struct {
	*clocktest.Sim
	ids  []upstream.SourceID
	logs *recorder
	// maxFreq is for observers: the largest kernel frequency seen (ppm).
	maxFreq float64
	// bound counts, over errorStats's observations, the synchronised
	// served states and those whose served time was inside the bound
	// they claimed; newWorld's cleanup wants at least 99 % inside.
	bound boundCount
}

// boundCount tallies served times against their claimed root distance.
type boundCount struct {
	synced, inside int
	worst          float64 // largest |error| / root distance seen
}

// observe checks what the box serves now against true time: the served
// (cooked) time's error must lie within the root distance the reply
// would claim. A client adds its own delay/2, which is 0 here.
func (b *boundCount) observe(w *world) (err, dist float64, synced bool) {
	st := w.Engine.SyncState()
	served := st.CookTime(w.Clock.Now())
	err = served.Sub(w.Now()).Seconds()
	if !st.Synchronised() {
		return err, 0, false
	}
	dist = st.RootDistanceAt(served).Seconds()
	b.synced++
	if math.Abs(err) <= dist {
		b.inside++
	}
	if dist > 0 {
		b.worst = max(b.worst, math.Abs(err)/dist)
	} else if err != 0 {
		b.worst = math.Inf(1)
	}
	return err, dist, true
}

func (b *boundCount) share() float64 {
	if b.synced == 0 {
		return 1
	}
	return float64(b.inside) / float64(b.synced)
}

// recorder is a slog.Handler that keeps the messages (and passes them on
// to stderr under -v).
type recorder struct {
	msgs []string
	next slog.Handler
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.msgs = append(r.msgs, rec.Message)
	if r.next != nil && r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// count returns how many messages start with prefix.
func (r *recorder) count(prefix string) int {
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

type setup struct {
	seed     uint64
	start    time.Time
	clock    clocktest.ClockConfig
	cfg      upstream.Config
	servers  int
	link     clocktest.Link
	source   config.Source
	noctl    bool // wrap the clock in clock.NoControl (-x)
	logLevel slog.Level
	// perSource and perServer, when set, adjust server i's line and
	// simulated server.
	perSource func(i int, s *config.Source)
	perServer func(i int, s *clocktest.Server)
}

// lanSetup is scenario 1's box: 100 ppm fast, 0.5 s ahead, three LAN
// servers with iburst, minpoll 6, maxpoll 10, makestep 0.1 3.
func lanSetup() setup {
	return setup{
		seed:  1,
		start: clocktest.Start,
		clock: clocktest.ClockConfig{Offset: 500 * time.Millisecond, FreqErr: 100, Wander: 0.001},
		cfg: upstream.Config{
			MakeStep:     &config.MakeStep{Threshold: 0.1, Limit: 3},
			ClockControl: true,
			Precision:    -24,
			HasSources:   true,
		},
		servers: 3,
		link:    clocktest.LAN,
		source:  config.Source{IBurst: true, MinPoll: 6, MaxPoll: 10, Port: 123},
	}
}

func newRecorder(level slog.Level) *recorder {
	r := &recorder{}
	if testing.Verbose() {
		r.next = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	return r
}

func newWorld(t testing.TB, s setup) *world {
	w := clocktest.NewWorld(s.start, s.seed)
	clk := w.NewClock(s.clock)
	logs := newRecorder(s.logLevel + slog.LevelWarn)
	var c clock.Clock = clk
	if s.noctl {
		c = clock.NewNoControl(clk)
	}
	eng := upstream.NewEngine(s.cfg, c, slog.New(logs))
	sim := clocktest.NewSim(w, clk, eng)
	wd := &world{Sim: sim, logs: logs}
	t.Cleanup(func() {
		if b := wd.bound; b.synced > 0 && b.share() < 0.99 {
			t.Errorf("served time inside the served bound in %.2f%% of %d synchronised observations, want >= 99%% (worst: %.1f× the bound)",
				100*b.share(), b.synced, b.worst)
		}
	})
	for i := range s.servers {
		srv := clocktest.NewServer(fmt.Sprintf("198.18.0.%d:123", i+1))
		src := s.source
		if s.perSource != nil {
			s.perSource(i, &src)
		}
		if s.perServer != nil {
			s.perServer(i, srv)
		}
		wd.ids = append(wd.ids, sim.AddServer(srv, s.link, src))
	}
	return wd
}

// source returns the report line of id.
func (w *world) source(id upstream.SourceID) upstream.SourceReport {
	for i, r := range w.Engine.Sources() {
		if w.ids[i] == id {
			return r
		}
	}
	panic("no source")
}

// errorStats runs the world for d and returns the clock's error
// statistics, observed every second.
func (w *world) errorStats(d time.Duration) *clocktest.Stats {
	st := &clocktest.Stats{}
	w.Every = time.Second
	w.Observe = func(s *clocktest.Sim) {
		st.Add(s.Clock.ErrorSeconds())
		w.bound.observe(w)
	}
	w.Run(d)
	w.Observe = nil
	return st
}

func us(sec float64) string { return fmt.Sprintf("%.1f µs", sec*1e6) }

// describe names a served state as `tracking` would.
func describe(st ntpserver.SyncState) string {
	if !st.Synchronised() {
		return "unsynchronised"
	}
	return fmt.Sprintf("stratum %d refid %s", st.Stratum, wire.RefIDString(st.Stratum, st.RefID))
}

// parseLocal parses `local ARGS` with the real config parser.
func parseLocal(t testing.TB, args string) *config.Local {
	t.Helper()
	cfg, _, err := config.ParseBytes("test.conf", []byte("local "+args+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Local
}
