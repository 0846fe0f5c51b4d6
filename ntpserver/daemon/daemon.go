// Package daemon is the NTP half of `ntpbox serve`: the upstream sync,
// which polls the sources and steers the clock, and the NTP server,
// which answers clients with the state the sync publishes. It knows
// nothing of DHCP, DNS or the control socket: package box wires those
// to it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Options are the knobs of Start that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	// Workers is the number of sockets (and serving loops) per listening
	// address, spread by SO_REUSEPORT. Default: one per CPU.
	Workers int
	// NoClockControl is chronyd's -x: never adjust the system clock.
	NoClockControl bool
	// Clock overrides the system clock (tests). With NoClockControl it is
	// wrapped so that it is only read.
	Clock clock.Clock
	// Resolver looks up source names; default: the config's resolvers
	// (`nameserver` or the DHCP lease's), else the system's.
	Resolver Resolver
}

// servesAnyone reports whether the access rules allow at least one
// subnet; chrony opens its NTP port only then. `allow connected` counts
// even before the box has an address: the port is then open when the
// lease comes, and the access table decides who is served.
func servesAnyone(rules []config.AccessRule) bool {
	for _, r := range rules {
		if r.Allow {
			return true
		}
	}
	return false
}

// servePort is the port the NTP server answers on, or 0.
func servePort(cfg *config.Config) int {
	if !servesAnyone(cfg.Access) {
		return 0
	}
	return cfg.Port
}

// Service is the running NTP service.
type Service struct {
	log    *slog.Logger
	clk    clock.Clock
	sy     *syncer
	srv    *ntpserver.Server
	conn   []*net.UDPConn
	cfgRes *configResolver // nil when Options.Resolver was given
	ctx    context.Context // the service's, for the sync loop's updates

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
	done   chan struct{}
	err    error
}

// Start starts the NTP service. It
//
//  1. picks the clock: the kernel's, or under -x a read-only view of it;
//  2. restores the frequency from the drift file;
//  3. starts the upstream sync, which polls the configured sources and
//     steers the clock;
//  4. answers NTP requests with the state the sync publishes,
//
// until ctx is cancelled, Stop is called or the sync gives up
// (maxchange); it saves the drift file on the way out. Wait returns why
// it stopped.
//
// ns is the box's links now; Update follows their changes.
func Start(ctx context.Context, cfg *config.Config, ns netstate.State, o Options) (*Service, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.System()
	}
	if o.NoClockControl {
		clk = clock.NewNoControl(clk)
		log.Info("clock control disabled (-x): the system clock is only read")
	}
	res := o.Resolver
	var cfgRes *configResolver
	if res == nil {
		cfgRes = &configResolver{}
		cfgRes.set(cfg.Resolvers())
		res = cfgRes
	}
	precision := ntpserver.MeasurePrecision(clk.Now)
	var freq float64
	if cfg.DriftFile != "" {
		ppm, ok, err := readDrift(cfg.DriftFile)
		switch {
		case err != nil:
			log.Warn("ignoring drift file", "err", err)
		case ok:
			freq = ppm
			log.Info("frequency restored from drift file", "ppm", ppm, "file", cfg.DriftFile)
		}
	}
	eng := upstream.NewEngine(upstream.Config{
		MakeStep:       cfg.MakeStep,
		MaxChange:      cfg.MaxChange,
		MinSources:     cfg.MinSources,
		Local:          cfg.Local,
		RTCSync:        cfg.RTCSync,
		InitialFreqPPM: freq,
		ClockControl:   !o.NoClockControl,
		Precision:      precision,
		HasSources:     len(cfg.Sources) > 0,
		Serving:        cfg.Port != 0 && servesAnyone(cfg.Access),
		Tick:           syncTick,
		Tuning:         cfg.Tuning,
	}, clk, log.With("component", "sync"))
	srv := ntpserver.NewFromConfig(cfg, clk.Now, log)
	srv.SetAccess(ntpserver.NewAccess(cfg.Access, ns.Connected()))
	srv.SetState(eng.SyncState())
	sy, err := newSyncer(eng, clk, srv, cfg.Sources, ns, servePort(cfg), cfg.BindAddresses, res, cfg.DriftFile, log.With("component", "sync"))
	if err != nil {
		return nil, fmt.Errorf("upstream sockets: %w", err)
	}

	var conns []*net.UDPConn
	if cfg.Port == 0 || !servesAnyone(cfg.Access) {
		log.Warn("NTP server port not opened: no allow directive or port 0 (as chrony)")
	} else {
		var warns []error
		conns, warns, err = ntpserver.Listen(ctx, ntpserver.ListenAddrs(cfg.BindAddresses, cfg.Port), workers)
		for _, w := range warns {
			log.Warn(w.Error())
		}
		if err != nil {
			sy.close()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Service{log: log, clk: clk, sy: sy, srv: srv, conn: conns, cfgRes: cfgRes, ctx: ctx, cancel: cancel,
		errs: make(chan error, len(conns)+1), done: make(chan struct{})}
	var addrs []net.Addr
	seen := map[string]bool{}
	for _, c := range conns {
		if a := c.LocalAddr().String(); !seen[a] {
			seen[a] = true
			addrs = append(addrs, c.LocalAddr())
		}
	}
	st := srv.State()
	log.Info("serving", "addrs", addrs, "sockets", len(conns), "sources", len(cfg.Sources),
		"stratum", st.Stratum, "leap", st.Leap.String(), "refid", wireRefID(st), "precision", precision)
	for _, c := range conns {
		s.wg.Go(func() {
			if err := srv.Serve(c); err != nil {
				s.errs <- fmt.Errorf("serve %s: %w", c.LocalAddr(), err)
			}
		})
	}
	s.wg.Go(func() {
		if err := sy.run(ctx); err != nil {
			s.errs <- err
		}
	})
	go s.watch(ctx)
	return s, nil
}

// Update follows a change of the config's sources or resolvers (a DHCP
// lease arrived, was renewed with other servers, or expired) and of the
// links (an address came or went): the access table is rebuilt with the
// connected subnets of now, sources named in option 42 are added and
// removed, and a source at one of the box's own addresses is dropped.
// The rest of cfg must be what the service started with; package box
// restarts the service otherwise.
func (s *Service) Update(cfg *config.Config, ns netstate.State) {
	s.srv.SetAccess(ntpserver.NewAccess(cfg.Access, ns.Connected()))
	changed := false
	if s.cfgRes != nil {
		changed = s.cfgRes.set(cfg.Resolvers())
	}
	s.sy.update(s.ctx, syncUpdate{sources: append([]config.Source{}, cfg.Sources...), local: &ns, resolvers: changed})
}

// watch stops the service when ctx ends or a part of it fails.
func (s *Service) watch(ctx context.Context) {
	var err error
	select {
	case <-ctx.Done():
	case err = <-s.errs:
	}
	s.cancel()
	for _, c := range s.conn {
		c.Close()
	}
	s.wg.Wait()
	st := s.srv.Stats()
	s.log.Info("stopped", "received", st.Received, "answered", st.Answered, "dropped", st.Dropped)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	s.err = err
	close(s.done)
}

// Stop stops the service and waits until it has stopped.
func (s *Service) Stop() { s.cancel(); <-s.done }

// Done is closed once the service has stopped.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err is why the service stopped (nil for Stop or ctx); valid after Done.
func (s *Service) Err() error { return s.err }

// Sources is `sources`: the engine's report of its sources.
func (s *Service) Sources() []upstream.SourceReport {
	s.sy.mu.Lock()
	defer s.sy.mu.Unlock()
	return s.sy.eng.Sources()
}

// Tracking is `tracking`: the engine's report of the clock.
func (s *Service) Tracking() upstream.TrackingReport {
	s.sy.mu.Lock()
	defer s.sy.mu.Unlock()
	return s.sy.eng.Tracking()
}

// History is the clock's state at each update of the last 24 hours,
// oldest first (the status page, `ntpbox history`).
func (s *Service) History() []upstream.HistoryPoint {
	s.sy.mu.Lock()
	defer s.sy.mu.Unlock()
	return s.sy.eng.History()
}

// MakeStep steps the clock to the current estimate at once (chronyc
// makestep) and returns the step; it fails under -x.
func (s *Service) MakeStep() (time.Duration, error) {
	s.sy.mu.Lock()
	step, err := s.sy.eng.MakeStep()
	s.sy.mu.Unlock()
	if err == nil {
		s.sy.publish() // serve from the stepped clock at once
	}
	return step, err
}

// Burst makes the sources match accepts poll in a burst (chronyc
// burst): up to total requests 2 s apart, until good good samples. It
// returns how many sources burst; their first request leaves within a
// second.
func (s *Service) Burst(good, total int, match func(name string, addr netip.Addr) bool) (int, error) {
	s.sy.mu.Lock()
	defer s.sy.mu.Unlock()
	return s.sy.eng.Burst(good, total, match)
}

// Unresolved is how many configured sources have no address yet
// (chronyc activity); they are not among Sources.
func (s *Service) Unresolved() int { return int(s.sy.unresolved.Load()) }

// ServerStats are the NTP server's counters (`serverstats`).
func (s *Service) ServerStats() ntpserver.Stats { return s.srv.Stats() }

// ClientStats is one line of `clients`.
type ClientStats struct {
	ntpserver.ClientStats
	// IntervalLog2 is chronyc's Int column: log2 of the mean interval
	// between the client's requests, 127 when unknown.
	IntervalLog2 int
	LastAgo      time.Duration
}

// Clients returns the client log, or nil with `noclientlog`.
func (s *Service) Clients() []ClientStats {
	cl := s.srv.Clients()
	if cl == nil {
		return nil
	}
	now := s.clk.Now().UnixNano()
	var out []ClientStats
	for _, c := range cl.Clients() {
		out = append(out, ClientStats{ClientStats: c, IntervalLog2: meanIntervalLog2(c), LastAgo: time.Duration(now - c.Last)})
	}
	return out
}

// meanIntervalLog2 is chronyc's Int column: log2 of the mean interval
// between a client's requests, 127 when unknown.
func meanIntervalLog2(c ntpserver.ClientStats) int {
	if c.Hits < 2 || c.Last <= c.First {
		return 127
	}
	mean := float64(c.Last-c.First) / float64(c.Hits-1) / 1e9
	return int(math.Round(math.Log2(mean)))
}

func wireRefID(st ntpserver.SyncState) string { return wire.RefIDString(st.Stratum, st.RefID) }
