// Package box is the one place that wires the box's services together:
// the NTP service (package ntpserver/daemon), the control socket
// (package control), the command port for chronyc (package
// control/cmdmon), and discovery: DHCP option 42 (package dhcpopt)
// and the _ntp._udp SRV zone (package dnssrv). The services never import
// each other; each takes typed values from package config and the live
// links from package netstate.
//
// Run follows the box's network as it changes: a DHCP lease that
// arrives late, a new address, a link that goes down and up. The NTP
// service is updated in place (access rules, option 42 sources,
// resolvers); discovery is restarted on the new LAN address.
package box

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/control/cmdmon"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver/daemon"
)

// Service is one of the box's services. `ntpbox serve` runs them all in
// one process; the appliance runs each as its own process, with its own
// user, capabilities and seccomp filter (`serve --service`), so that a
// crash or a compromise of one does not take the others with it.
type Service string

const (
	// ServiceNTP is the NTP service: sync, serving, the control socket
	// and the command port (chronyc -h, UDP 323).
	ServiceNTP Service = "ntp"
	// ServiceDHCP is discovery over DHCP: option 42 (`dhcp`) on UDP 67
	// and option 56 (`dhcp6`) on UDP 547.
	ServiceDHCP Service = "dhcp"
	// ServiceDNS is the _ntp._udp SRV zone (`dns zone`) on port 53.
	ServiceDNS Service = "dns"
)

// Services are all the services, in the order the appliance starts them.
var Services = []Service{ServiceNTP, ServiceDHCP, ServiceDNS, ServiceWeb}

// ParseService parses a service name.
func ParseService(s string) (Service, error) {
	for _, v := range Services {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown service %q (want ntp, dhcp, dns or web)", s)
}

// Options are the knobs of Run that do not come from the config.
type Options struct {
	daemon.Options
	// Links delivers the box's links, the current ones first; default
	// netstate.Watch.
	Links <-chan netstate.State
	// Only, when not empty, are the services Run runs; the others are
	// left to other processes. Empty runs all of them.
	Only []Service
	// WebLog, if set, gives the last log lines for the status page (the
	// appliance's init keeps them; `ntpbox serve` passes a LogRing).
	WebLog func(context.Context) ([]string, error)
	// Reload, if set, is what `ntpbox reload` does through the control
	// socket: reread the config and send it on updates, or say why not
	// (the running config then stays).
	Reload func() error
}

// runs reports whether Run runs service s.
func (o Options) runs(s Service) bool {
	return len(o.Only) == 0 || slices.Contains(o.Only, s)
}

// Run is `ntpbox serve`: it starts the NTP service, the control socket
// for `ntpbox sources` and friends, the command port for `chronyc -h`,
// and discovery when configured (DHCP
// option 42 on UDP 67 with `dhcp`, DHCPv6 option 56 with `dhcp6`, the
// SRV zone on UDP and TCP 53 with `dns zone`). It then follows updates
// (a new config from init when the DHCP lease changes; nil for none) and
// the links, until ctx is cancelled or the NTP service stops (maxchange).
// An update that changes more than a running service can follow
// (anything but the lease, the sources and the allow/deny rules)
// restarts the services with the new config.
func Run(ctx context.Context, cfg *config.Config, updates <-chan *config.Config, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		o.Logger = log
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	links := o.Links
	if links == nil {
		links = netstate.Watch(ctx, log.With("component", "net"))
	}
	var ns netstate.State
	select {
	case ns = <-links:
	case <-ctx.Done():
		return nil
	}
	for {
		next, err := run(ctx, cfg, updates, links, &ns, o)
		if next == nil {
			return err
		}
		log.Warn("config changed beyond the DHCP lease: restarting the services")
		cfg = next
	}
}

// run runs the services once; it returns a config to run next when an
// update needs a restart.
func run(ctx context.Context, cfg *config.Config, updates <-chan *config.Config, links <-chan netstate.State, cur *netstate.State, o Options) (*config.Config, error) {
	log := o.Logger
	ns := *cur
	defer func() { *cur = ns }()
	var ntp *daemon.Service
	var ntpDone <-chan struct{}
	if o.runs(ServiceNTP) {
		var err error
		if ntp, err = daemon.Start(ctx, cfg, ns, o.Options); err != nil {
			return nil, err
		}
		ntpDone = ntp.Done()
	}
	var err error
	var wg sync.WaitGroup
	var ln net.Listener
	if path := control.SocketPath(cfg); path != "" && ntp != nil {
		ln, err = control.Listen(path)
		if err != nil {
			log.Warn("control socket not available; ntpbox sources/tracking will not reach this daemon", "err", err)
		} else {
			log.Info("control socket", "path", path)
			wg.Go(func() { control.Serve(ln, provider{ntp: ntp, reload: o.Reload}, log.With("component", "control")) })
		}
	}
	var cmd *cmdmonRunner
	if ntp != nil {
		cmd = startCmdmon(cfg, ns, provider{ntp: ntp}, log.With("component", "cmdmon"), &wg)
	}
	disc := &discoveryRunner{log: log, wg: &wg, dhcp: o.runs(ServiceDHCP), dns: o.runs(ServiceDNS)}
	disc.follow(cfg, ns)

	// The status page and /metrics (`http`): in one process, or, when
	// the services run one per process (the appliance), each serves its
	// part on a unix socket to the web service.
	var curCfg atomic.Pointer[config.Config]
	curCfg.Store(cfg)
	var webR *webRunner
	if cfg.HTTP != nil {
		split := len(o.Only) > 0
		var svcs []Service
		for _, s := range Services {
			if o.runs(s) {
				svcs = append(svcs, s)
			}
		}
		var prov *provider
		if ntp != nil {
			prov = &provider{ntp: ntp}
		}
		var d *discoveryRunner
		if disc.dhcp || disc.dns {
			d = disc
		}
		p := newPart(svcs, prov, d, curCfg.Load, split)
		webCtx, webStop := context.WithCancel(ctx)
		defer webStop()
		if split && !o.runs(ServiceWeb) && len(svcs) == 1 {
			p.serveSocket(webCtx, svcs[0], &wg, log.With("component", "http"))
		}
		if o.runs(ServiceWeb) {
			var others []Service
			if split {
				for _, s := range Services {
					if !o.runs(s) {
						others = append(others, s)
					}
				}
			}
			webR = startWeb(cfg, ns, p, others, o.WebLog, log.With("component", "http"))
		}
	}

	var restart *config.Config
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ntpDone:
			break loop
		case st, ok := <-links:
			if !ok {
				links = nil
				continue
			}
			if !st.Equal(ns) {
				log.Info("network changed", "links", st.String())
			}
			ns = st
			if ntp != nil {
				ntp.Update(cfg, ns)
			}
			cmd.update(cfg, ns)
			disc.follow(cfg, ns)
			webR.follow(cfg, ns)
		case next, ok := <-updates:
			if !ok {
				updates = nil
				continue
			}
			if !sameStatic(cfg, next) {
				restart = next
				break loop
			}
			cfg = next
			curCfg.Store(cfg)
			if ntp != nil {
				ntp.Update(cfg, ns)
			}
			cmd.update(cfg, ns)
			disc.follow(cfg, ns)
			webR.follow(cfg, ns)
		}
	}
	webR.close()
	if ntp != nil {
		ntp.Stop()
	}
	disc.stop()
	cmd.close()
	if ln != nil {
		ln.Close()
	}
	wg.Wait()
	if ntp != nil && restart == nil {
		err = ntp.Err()
	}
	return restart, err
}

// sameStatic reports whether a and b differ only in what the running
// services take live (daemon.Service.Update, cmdmonRunner.update): the
// lease, the sources (option 42's and the configured ones), the
// allow/deny rules and the cmdallow/cmddeny rules as long as the command
// port stays on the same addresses. Then a reload or a lease changes
// them without closing a socket, so no client reply is lost; anything
// else restarts the services.
func sameStatic(a, b *config.Config) bool {
	strip := func(c *config.Config) config.Config {
		s := *c
		s.Lease, s.Origins = nil, nil
		s.Sources, s.Access, s.CmdAccess = nil, nil, nil
		return s
	}
	return reflect.DeepEqual(strip(a), strip(b)) && slices.Equal(cmdmon.ListenAddrs(a), cmdmon.ListenAddrs(b))
}

// discoveryRunner runs discovery for the current config and links, and
// starts it again when what it depends on changes (the LAN address, the
// lease, the router or resolvers it hands out).
type discoveryRunner struct {
	mu        sync.Mutex // guards running for the page and /metrics
	log       *slog.Logger
	dhcp, dns bool // the services this process runs
	wg        *sync.WaitGroup
	running   *discovery
	key       string
	lastErr   string
}

func (r *discoveryRunner) follow(cfg *config.Config, ns netstate.State) {
	key := discoveryKey(cfg, ns)
	if r.running != nil && key == r.key {
		return
	}
	r.stop()
	r.key = key
	d, err := startDiscovery(cfg, ns, r.wg, r.log, r.dhcp, r.dns)
	if err != nil {
		// The LAN may not be there yet (no lease): try again when the
		// links change; say so once per reason.
		if msg := err.Error(); msg != r.lastErr {
			r.log.Warn("discovery not running; it starts when the network allows", "err", err)
			r.lastErr = msg
		}
		return
	}
	r.lastErr = ""
	r.running = d
}

func (r *discoveryRunner) stop() {
	if r.running == nil {
		return
	}
	r.running.close()
	r.running.logStats(r.log.With("component", "dhcp"))
	r.running = nil
}

// discoveryKey is what discovery depends on: the config's discovery
// settings, the lease, the box's router and resolvers, and the LAN
// addresses; discovery restarts when it changes.
func discoveryKey(cfg *config.Config, ns netstate.State) string {
	lan, err := pickLAN(cfg, lanAddrs(ns))
	return fmt.Sprint(cfg.DHCP, cfg.DHCP6, cfg.DNSZone, cfg.Advertise, cfg.BindAddresses, cfg.Network.DHCP,
		cfg.Lease != nil, cfg.Router(), cfg.Resolvers(), lan, err, lanAddrs6(ns))
}
