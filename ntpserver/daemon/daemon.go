// Package daemon is `ntpbox serve`: it builds the NTP server from a
// config, listens, and runs until its context ends.
package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/config"
)

// RunOptions are the knobs of Run that do not come from the config file.
type RunOptions struct {
	Logger *slog.Logger
	// Workers is the number of sockets (and serving loops) per listening
	// address, spread by SO_REUSEPORT. Default: one per CPU.
	Workers int
	// NoClockControl is chronyd's -x: never adjust the system clock.
	// (The server alone never does; the upstream sync will honour it.)
	NoClockControl bool
	// Ready, if set, is called with the bound addresses once the server
	// is listening (port 0 in the config yields ephemeral ports only when
	// ntpserver.Listen is given them, see ntpserver.ListenAddrs).
	Ready func(addrs []net.Addr, s *ntpserver.Server)
	// Now is the clock; default time.Now.
	Now func() time.Time
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

// Run is `ntpbox serve`: it listens where the config says and answers
// NTP requests until ctx is cancelled.
func Run(ctx context.Context, cfg *config.Config, o RunOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	srv := ntpserver.NewFromConfig(cfg, o.Now, log)
	if len(cfg.Sources) > 0 {
		log.Warn("upstream sync is not implemented yet: server/pool lines are validated but not polled", "sources", len(cfg.Sources))
	}
	st := srv.State()
	log.Info("serving state", "stratum", st.Stratum, "leap", st.Leap.String(), "refid", ntpserver.RefIDString(st.Stratum, st.RefID), "precision", st.Precision)

	if cfg.Port == 0 || !servesAnyone(cfg.Access) {
		log.Warn("NTP server port not opened: no allow directive or port 0 (as chrony)")
		if o.Ready != nil {
			o.Ready(nil, srv)
		}
		<-ctx.Done()
		return nil
	}
	conns, warns, err := ntpserver.Listen(ctx, ntpserver.ListenAddrs(cfg.BindAddresses, cfg.Port), workers)
	for _, w := range warns {
		log.Warn(w.Error())
	}
	if err != nil {
		return err
	}
	var addrs []net.Addr
	seen := map[string]bool{}
	for _, c := range conns {
		if a := c.LocalAddr().String(); !seen[a] {
			seen[a] = true
			addrs = append(addrs, c.LocalAddr())
		}
	}
	log.Info("listening", "addrs", addrs, "sockets", len(conns))
	if o.Ready != nil {
		o.Ready(addrs, srv)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for _, c := range conns {
		wg.Go(func() {
			if err := srv.Serve(c); err != nil {
				errs <- err
			}
		})
	}
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	s := srv.Stats()
	log.Info("stopped", "received", s.Received, "answered", s.Answered, "dropped", s.Dropped)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
