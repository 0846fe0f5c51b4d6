// Package daemon is `ntpbox serve`: it builds the NTP server from a
// config, listens, and runs until its context ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// RunOptions are the knobs of Run that do not come from the config file.
type RunOptions struct {
	Logger *slog.Logger
	// Workers is the number of sockets (and serving loops) per listening
	// address, spread by SO_REUSEPORT. Default: one per CPU.
	Workers int
	// NoClockControl is chronyd's -x: never adjust the system clock.
	NoClockControl bool
	// Clock overrides the system clock (tests). With NoClockControl it is
	// wrapped so that it is only read.
	Clock clock.Clock
	// Resolver looks up source names; default net.DefaultResolver.
	Resolver Resolver
}

// servesAnyone reports whether the access rules allow at least one
// subnet; chrony opens its NTP port only then.
func servesAnyone(rules []config.AccessRule) bool {
	for _, r := range rules {
		if r.Allow {
			return true
		}
	}
	return false
}

// Run is `ntpbox serve`. It
//
//  1. picks the clock: the kernel's, or under -x a read-only view of it;
//  2. restores the frequency from the drift file;
//  3. starts the upstream sync, which polls the configured sources and
//     steers the clock;
//  4. opens the control socket for `ntpbox sources` and friends;
//  5. answers NTP requests with the state the sync publishes;
//  6. runs discovery when configured: DHCP option 42 on UDP 67 (`dhcp
//     inform|server`) and the _ntp._udp SRV zone on UDP and TCP 53 (`dns
//     zone`),
//
// until ctx is cancelled or the sync gives up (maxchange), and saves the
// drift file on the way out.
func Run(ctx context.Context, cfg *config.Config, o RunOptions) error {
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
	if res == nil {
		res = net.DefaultResolver
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
		Tick:           syncTick,
	}, clk, log.With("component", "sync"))
	srv := ntpserver.NewFromConfig(cfg, clk.Now, log)
	srv.SetState(eng.SyncState())
	sy, err := newSyncer(eng, clk, srv, cfg.Sources, res, cfg.DriftFile, log.With("component", "sync"))
	if err != nil {
		return fmt.Errorf("upstream sockets: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ln net.Listener
	if path := control.SocketPath(cfg); path != "" {
		ln, err = control.Listen(path)
		if err != nil {
			log.Warn("control socket not available; ntpbox sources/tracking will not reach this daemon", "err", err)
		} else {
			log.Info("control socket", "path", path)
			wg.Go(func() { control.Serve(ln, provider{s: sy, srv: srv, now: clk.Now}, log.With("component", "control")) })
		}
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
			if ln != nil {
				ln.Close()
			}
			wg.Wait()
			return err
		}
	}
	disc, err := startDiscovery(cfg, &wg, log)
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		sy.close()
		if ln != nil {
			ln.Close()
		}
		wg.Wait()
		return fmt.Errorf("discovery: %w", err)
	}
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
		"stratum", st.Stratum, "leap", st.Leap.String(), "refid", wire.RefIDString(st.Stratum, st.RefID), "precision", precision)
	errs := make(chan error, len(conns)+1)
	for _, c := range conns {
		wg.Go(func() {
			if err := srv.Serve(c); err != nil {
				errs <- fmt.Errorf("serve %s: %w", c.LocalAddr(), err)
			}
		})
	}
	wg.Go(func() {
		if err := sy.run(ctx); err != nil {
			errs <- err
		}
	})
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	for _, c := range conns {
		c.Close()
	}
	disc.close()
	if ln != nil {
		ln.Close()
	}
	wg.Wait()
	s := srv.Stats()
	disc.logStats(log.With("component", "dhcp"))
	log.Info("stopped", "received", s.Received, "answered", s.Answered, "dropped", s.Dropped)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
