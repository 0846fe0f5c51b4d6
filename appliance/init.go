package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
)

// Console sentinels, for people and for tests that watch the console.
const (
	SentinelServing  = "ntpbox: serving"
	SentinelPowerOff = "ntpbox: powering off"
	SentinelPanic    = "ntpbox: PANIC"
)

// System is what init does to the operating system. [Linux] is the real
// one; tests use a fake.
type System interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Sethostname(name string) error
	// ReadFile reads a file as it is (a file a person wrote).
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces a file so that a power cut leaves the old
	// contents or the new; ReadBack reads what it wrote.
	WriteFile(name string, data []byte) error
	ReadBack(name string) ([]byte, error)
	// DisableCtrlAltDel makes Ctrl-Alt-Del send SIGINT to init instead
	// of rebooting at once.
	DisableCtrlAltDel() error
	// LoadDrivers loads the modules the devices present need, and the
	// named extra ones; it returns the names of the modules loaded.
	LoadDrivers(extra ...string) ([]string, error)
	// FindFAT returns the block device holding the FAT file system
	// labelled label, waiting at most wait for disks still being probed;
	// "" when there is none.
	FindFAT(label string, wait time.Duration) (string, error)
	Unmount(target string) error
	// ListensUDP reports whether a socket is bound to the UDP port.
	ListensUDP(port int) bool
	// PowerButton returns a channel that receives when the power button
	// is pressed (nil when the machine has none).
	PowerButton(ctx context.Context) <-chan struct{}
	// KillAll sends sig to every process but init.
	KillAll(sig syscall.Signal)
	Sync()
	PowerOff() error
	// Now reads the system clock; SetClock steps it.
	Now() time.Time
	SetClock(t time.Time) error
}

// mount is one file system init mounts.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// Mount flags (linux/mount.h), spelled out so that this file builds
// everywhere.
const (
	msNoSUID = 0x2
	msNoDev  = 0x4
	msNoExec = 0x8
)

// permWait bounds how long init waits for the disk with the persistent
// partition to appear.
const permWait = 10 * time.Second

var mounts = []mount{
	{"proc", "/proc", "proc", msNoSUID | msNoDev | msNoExec, ""},
	{"sysfs", "/sys", "sysfs", msNoSUID | msNoDev | msNoExec, ""},
	{"devtmpfs", "/dev", "devtmpfs", msNoSUID, "mode=0755"},
	{"tmpfs", "/run", "tmpfs", msNoSUID | msNoDev, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", msNoSUID | msNoDev, "mode=1777"},
}

// Init is PID 1.
type Init struct {
	Sys     System
	Net     NetOps
	Start   Starter
	Log     *slog.Logger
	Console io.Writer // every console: the sentinels and banners go there
	Self    string    // this binary, run as `Self serve -c RunConfig`
	// Shutdown receives the signals that power the machine off (SIGTERM,
	// SIGINT from Ctrl-Alt-Del, SIGPWR).
	Shutdown <-chan os.Signal
	// StopTimeout is how long the service gets to stop; default 10 s.
	StopTimeout time.Duration
	// Ring, if set, is served on the unix socket LogSocket (once /run is
	// mounted) to `ntpbox log`.
	Ring      *Ring
	LogSocket string
	// SyncState says whether the box's time is good, for the banner
	// (nil: "starting").
	SyncState func(cfg *config.Config) string
	// Mounted, if set, is called once /proc, /sys and /dev are mounted
	// (Main opens every console then).
	Mounted func()
	// Entropy, if set, credits the random seeds at boot and keeps one
	// for the next (see Seeds); SeedRefresh is how often (default
	// SeedRefresh).
	Entropy     Entropy
	SeedRefresh time.Duration
	seeds       *Seeds
}

// Run boots the machine, runs the service and follows the network until
// a shutdown signal or the power button, then stops the service and
// powers off. It returns only if powering off failed.
func (in *Init) Run(ctx context.Context) error {
	perm, bc := in.boot()
	if _, ok := bc.hooks["testpanic"]; ok {
		panic("ntpbox.testpanic: a panic during boot, injected by a test")
	}
	cfg, err := bc.merge(nil)
	if err != nil { // loadConfig checked every part: this cannot be
		in.Log.Error("merge the config", "err", err)
		cfg = config.Default()
	}
	in.publish(cfg)
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	in.serveLog(logCtx)

	netCtx, stopNet := context.WithCancel(ctx)
	defer stopNet()
	nw := &network{in: in, cfg: cfg, leases: make(chan LeaseEvent, 8), linkUp: make(chan struct{}, 1), found: make(chan netstate.Link, 1)}
	nw.start(netCtx)
	links := in.Net.Links(netCtx)

	// The NTP port: a lease never changes it (the supervisor's goroutine
	// reads it while init's loop replaces cfg).
	port := cfg.Port
	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	ready := make(chan struct{}, 1)
	sup := &Supervisor{
		Argv:        []string{in.Self, "serve", "-c", RunConfig},
		Start:       in.Start,
		Log:         in.Log.With("service", "ntpbox serve"),
		StopTimeout: in.StopTimeout,
		Ready:       func() bool { return port == 0 || in.Sys.ListensUDP(port) },
		OnReady: func(p Process, run int) {
			fmt.Fprintf(in.Console, "%s (run %d, pid %d, udp port %d)\n", SentinelServing, run, p.Pid(), port)
			if _, ok := bc.hooks["testkill"]; ok && run == 1 {
				in.Log.Warn("ntpbox.testkill: killing the service once", "pid", p.Pid())
				p.Signal(syscall.SIGKILL)
				return
			}
			select {
			case ready <- struct{}{}:
			default:
			}
		},
	}
	supDone := make(chan struct{})
	go func() {
		defer close(supDone)
		defer in.recoverLog("supervisor")
		sup.Run(svcCtx)
	}()

	var reason string
	var lastLinks netstate.State
	keptGood := false
	button := in.Sys.PowerButton(ctx)
	for reason == "" {
		select {
		case sig := <-in.Shutdown:
			reason = "signal " + sig.String()
		case <-button:
			reason = "power button"
		case <-ctx.Done():
			reason = "init stopped"
		case <-ready:
			if !keptGood {
				keptGood = true
				in.saveLastGood(bc)
			}
			in.printBanner(cfg, nw, bc)
		case link := <-nw.found:
			nw.configure(netCtx, link)
			in.printBanner(cfg, nw, bc)
		case ev := <-nw.leases:
			nw.applyLease(ev)
			if next, err := bc.merge(nw.lease); err != nil {
				in.Log.Error("merge the DHCP lease into the config", "err", err)
			} else {
				cfg = next
				nw.cfg = cfg
				in.publish(cfg)
			}
			if !ev.TimesOnly {
				in.printBanner(cfg, nw, bc)
			}
		case st, ok := <-links:
			if !ok {
				links = nil
				continue
			}
			if nw.followLinks(lastLinks, st) {
				in.printBanner(cfg, nw, bc)
			}
			lastLinks = st
		}
	}
	in.Log.Info("shutting down", "reason", reason)
	stopSvc()
	<-supDone
	in.Sys.KillAll(syscall.SIGTERM)
	in.seeds.Stop()
	in.Sys.Sync()
	if perm {
		if err := in.Sys.Unmount(PermDir); err != nil {
			in.Log.Error("unmount", "target", PermDir, "err", err)
		}
	}
	fmt.Fprintf(in.Console, "%s (%s)\n", SentinelPowerOff, reason)
	return in.Sys.PowerOff()
}

// boot takes the steps before the network and the service: mounts, the
// clock's floor, drivers, the persistent partition, the config. Each
// failure is logged; booting goes on. It reports whether PermDir is
// mounted.
func (in *Init) boot() (bool, *boxConfig) {
	for _, m := range mounts {
		if err := in.Sys.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			in.Log.Error("mount", "target", m.target, "err", err)
		}
	}
	if in.Mounted != nil {
		in.Mounted()
	}
	in.checkClock()
	if err := in.Sys.DisableCtrlAltDel(); err != nil {
		in.Log.Error("disable Ctrl-Alt-Del", "err", err)
	}
	mods, err := in.Sys.LoadDrivers(append([]string{"evdev"}, StorageModules...)...)
	if err != nil {
		in.Log.Error("load drivers", "err", err)
	}
	in.Log.Info("drivers loaded", "modules", mods)
	perm := in.mountPerm()
	in.removeStale(perm)
	in.seeds = in.startSeeds(perm)
	bc := in.loadConfig(perm)
	for _, p := range bc.problems {
		in.Log.Error("config: " + p)
	}
	if bc.base.Layer == config.LayerPerm {
		in.Log.Info("using the persistent config", "file", bc.base.Name)
	} else {
		in.Log.Info("using the config", "file", bc.base.Name, "layer", bc.base.Layer.String())
	}
	return perm, bc
}

// publish writes the merged config for `ntpbox serve` (which follows the
// file) and `ntpbox config`.
func (in *Init) publish(cfg *config.Config) {
	b, err := config.Encode(cfg)
	if err == nil {
		err = in.Sys.WriteFile(RunConfig, b)
	}
	if err != nil {
		in.Log.Error("write the merged config", "file", RunConfig, "err", err)
	}
}

// printBanner prints who and where the box is on every console.
func (in *Init) printBanner(cfg *config.Config, nw *network, bc *boxConfig) {
	sync := "starting"
	if in.SyncState != nil {
		sync = in.SyncState(cfg)
	}
	port := cfg.Port
	if !slices.ContainsFunc(cfg.Access, func(r config.AccessRule) bool { return r.Allow }) {
		port = 0
	}
	b := bannerInfo{
		Hostname: nw.hostname, Link: nw.link.Name, Addrs: cfg.Addresses(), Lease: cfg.Lease, DHCP: cfg.Network.DHCP,
		Port: port, Sync: sync, Problems: bc.problems,
	}
	if nw.link.Name == "" {
		b.Addrs = nil
	}
	// The lease's remaining time aside, print it only when it says
	// something new: a lease and the link's address change come as two
	// events.
	key := fmt.Sprint(b.Hostname, b.Link, b.Addrs, b.Lease != nil && b.Lease.Server.IsValid(), b.DHCP, b.Port, b.Sync, b.Problems)
	if key == nw.lastBanner {
		return
	}
	nw.lastBanner = key
	fmt.Fprint(in.Console, banner(b, in.Sys.Now()))
}

// serveLog serves the ring on LogSocket, when both are set.
func (in *Init) serveLog(ctx context.Context) {
	if in.Ring == nil || in.LogSocket == "" {
		return
	}
	ln, err := ListenLog(in.LogSocket)
	if err != nil {
		in.Log.Error("log socket", "err", err)
		return
	}
	go func() {
		defer in.recoverLog("log socket")
		ServeLog(ctx, ln, in.Ring, in.Log)
	}()
}

// recoverLog logs a panic instead of letting it end PID 1.
func (in *Init) recoverLog(what string) {
	if r := recover(); r != nil {
		in.Log.Error("panic", "in", what, "panic", r)
	}
}

// network is init's side of the box's network: the link, the addresses
// it gives it (static, or the DHCP lease's), and what follows from the
// lease.
type network struct {
	in       *Init
	cfg      *config.Config
	link     netstate.Link // "" until found
	hostname string
	lease    *config.Lease
	leases   chan LeaseEvent
	linkUp   chan struct{}
	found    chan netstate.Link // the link, when it was not there at boot
	// lastBanner is what the last banner said, less the lease's time.
	lastBanner string
	up         bool // the link has a carrier
	everUp     bool // it had one since boot: a carrier now is the cable coming back
}

// start finds the link and configures it: the static addresses, or a
// DHCP client. Without a link it keeps looking in the background.
func (nw *network) start(ctx context.Context) {
	in := nw.in
	if err := in.Net.Loopback(); err != nil {
		in.Log.Error("loopback", "err", err)
	}
	nw.hostname = hostnameFor(nw.cfg.Network.Hostname, nil)
	link, err := in.Net.WaitLink(nw.cfg.Network.Interface, linkWait)
	if err != nil {
		in.Log.Error("no network interface yet; looking again every 10 s", "err", err)
		go func() {
			defer in.recoverLog("network")
			for ctx.Err() == nil {
				time.Sleep(10 * time.Second)
				if link, err := in.Net.WaitLink(nw.cfg.Network.Interface, time.Second); err == nil {
					in.Log.Info("network interface found", "interface", link.Name)
					nw.found <- link
					return
				}
			}
		}()
		in.setHostname(nw.hostname)
		return
	}
	nw.configure(ctx, link)
}

// configure sets up a link once found.
func (nw *network) configure(ctx context.Context, link netstate.Link) {
	in := nw.in
	nw.link = link
	nw.hostname = hostnameFor(nw.cfg.Network.Hostname, link.MAC)
	in.setHostname(nw.hostname)
	in.Log.Info("interface up", "name", link.Name, "mac", link.MAC.String(), "hostname", nw.hostname)
	if nw.cfg.Network.DHCP {
		if err := in.Net.DHCP(ctx, link, nw.hostname, nw.linkUp, nw.leases, in.Log.With("component", "dhcp-client")); err != nil {
			in.Log.Error("DHCP client", "err", err)
		}
		return
	}
	nw.apply(nw.cfg.Network.Addresses, nw.cfg.Network.Gateway)
	in.Log.Info("network configured", "addresses", nw.cfg.Network.Addresses, "gateway", nw.cfg.Network.Gateway)
}

// apply gives the link addrs and the default route through gw. (The
// service resolves names with the config's resolvers itself: no
// /etc/resolv.conf.)
func (nw *network) apply(addrs []netip.Prefix, gw netip.Addr) {
	in := nw.in
	if err := in.Net.SetAddrs(nw.link.Name, addrs); err != nil {
		in.Log.Error("set addresses", "interface", nw.link.Name, "err", err)
	}
	if err := in.Net.SetGateway(nw.link.Name, gw); err != nil {
		in.Log.Error("set default route", "interface", nw.link.Name, "err", err)
	}
}

// applyLease configures what a lease event changes.
func (nw *network) applyLease(ev LeaseEvent) {
	in := nw.in
	old := nw.lease
	nw.lease = ev.Lease
	switch {
	case ev.Lease == nil:
		in.Log.Warn("DHCP lease gone: the address is removed until a new lease comes", "interface", nw.link.Name, "why", ev.Reason)
		nw.apply(nil, netip.Addr{})
	case ev.TimesOnly:
		in.Log.Debug("DHCP lease renewed", "address", ev.Lease.Address, "until", ev.Lease.Expires())
	default:
		l := ev.Lease
		gw := nw.cfg.Network.Gateway
		if !gw.IsValid() {
			gw = l.Router
		}
		if old != nil && old.Address != l.Address {
			in.Log.Warn("DHCP gave a new address", "old", old.Address, "new", l.Address)
		}
		in.Log.Info("DHCP lease", "address", l.Address, "router", l.Router, "dns", l.DNS, "ntp", l.NTP,
			"server", l.Server, "lease", l.Duration, "why", ev.Reason)
		nw.apply([]netip.Prefix{l.Address}, gw)
	}
}

// followLinks reacts to a change of the links: it tells the DHCP client
// when the link came back up, and gives a static link its route again
// (the kernel drops it with the link). It reports whether the banner
// should be printed again (the link went up or down, or addresses
// changed).
func (nw *network) followLinks(prev, st netstate.State) bool {
	l, ok := st.Link(nw.link.Name)
	if !ok || nw.link.Name == "" {
		return false
	}
	was, _ := prev.Link(nw.link.Name)
	changed := l.Carrier != was.Carrier || !slices.Equal(l.Addrs, was.Addrs)
	if l.Carrier && !nw.up && nw.everUp {
		nw.in.Log.Info("link up", "interface", l.Name)
		if nw.cfg.Network.DHCP {
			select {
			case nw.linkUp <- struct{}{}:
			default:
			}
		} else if nw.cfg.Network.Gateway.IsValid() {
			nw.apply(nw.cfg.Network.Addresses, nw.cfg.Network.Gateway)
		}
	} else if !l.Carrier && nw.up {
		nw.in.Log.Warn("link down", "interface", l.Name)
	}
	nw.up = l.Carrier
	nw.everUp = nw.everUp || l.Carrier
	return changed
}

func (in *Init) setHostname(name string) {
	if err := in.Sys.Sethostname(name); err != nil {
		in.Log.Error("set host name", "err", err)
	}
}
