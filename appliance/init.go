package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
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
	// WriteSysctl writes value to a /proc/sys file, in place.
	WriteSysctl(path, value string) error
	// ServiceDir makes directory path owned by root and group gid, mode
	// 01770 (sticky): the services' place under /run.
	ServiceDir(path string, gid int) error
	// LoadDrivers loads the modules the devices present need, and the
	// named extra ones; it returns the names of the modules loaded.
	LoadDrivers(extra ...string) ([]string, error)
	// FindFAT returns the block device holding the FAT file system
	// labelled label, waiting at most wait for disks still being probed;
	// "" when there is none.
	FindFAT(label string, wait time.Duration) (string, error)
	// WatchDisks follows the kernel's uevents until ctx ends: it loads
	// the drivers of devices added later (a USB stick) and reports on
	// the channel when a block device was added or changed.
	WatchDisks(ctx context.Context) (<-chan struct{}, error)
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

// permWait bounds how long init waits for a disk that is being probed
// (see [Linux.FindFAT]); a machine with none does not wait.
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
	// Synced says whether the service is synchronised to a source: the
	// clock is then kept as the last known good time (PermTime). Nil:
	// never.
	Synced func(cfg *config.Config) bool
	// TimeSave is how often the time is saved to PermTime; default
	// TimeSave.
	TimeSave time.Duration
	clock    savedClock
	// disks reports block devices added after boot (WatchDisks).
	disks <-chan struct{}
	// Mounted, if set, is called once /proc, /sys and /dev are mounted
	// (Main opens every console then).
	Mounted func()
	// Entropy, if set, credits the random seeds at boot and keeps one
	// for the next (see Seeds); SeedRefresh is how often (default
	// SeedRefresh).
	Entropy     Entropy
	SeedRefresh time.Duration
	seeds       *Seeds
	// published is the config publish wrote last: what stateAllow
	// checks the services' requests against.
	published atomic.Pointer[config.Config]
	// Reload receives SIGHUP: reread /perm/ntpbox.conf (and cmdline.txt).
	Reload <-chan os.Signal
	// reloads carries `ntpbox reload` (init's socket) to Run's loop.
	reloads chan chan error
	// hostname is the box's host name, for the syslog messages.
	hostname atomic.Pointer[string]
	// syslog sends the ring to the log server (logserver).
	syslog *syslogSender
	runCtx context.Context
}

// Run boots the machine, runs the service and follows the network until
// a shutdown signal or the power button, then stops the service and
// powers off. It returns only if powering off failed.
func (in *Init) Run(ctx context.Context) error {
	perm, bc := in.boot(ctx)
	if _, ok := bc.hooks["testpanic"]; ok {
		panic("ntpbox.testpanic: a panic during boot, injected by a test")
	}
	cfg, err := bc.merge(nil)
	if err != nil { // loadConfig checked every part: this cannot be
		in.Log.Error("merge the config", "err", err)
		cfg = config.Default()
	}
	in.publish(cfg)
	in.printConfig(cfg)
	in.reloads = make(chan chan error)
	in.runCtx = ctx
	in.syslog = &syslogSender{ring: in.Ring, log: in.Log, host: func() string {
		if h := in.hostname.Load(); h != nil {
			return *h
		}
		return ""
	}}
	in.syslog.follow(ctx, syslogTarget(cfg))
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
	supDone := in.startServices(svcCtx, bc.hooks,
		func() bool { return port == 0 || in.Sys.ListensUDP(port) },
		func(p Process, run int) {
			fmt.Fprintf(in.Console, "%s (run %d, pid %d, udp port %d)\n", SentinelServing, run, p.Pid(), port)
			if k, ok := bc.hooks["testkill"]; ok && (k == "" || k == "1" || k == "ntp") && run == 1 {
				in.Log.Warn("ntpbox.testkill: killing the service once", "service", "ntp", "pid", p.Pid())
				p.Signal(syscall.SIGKILL)
				return
			}
			select {
			case ready <- struct{}{}:
			default:
			}
		})

	var reason string
	var lastLinks netstate.State
	keptGood := false
	button := in.Sys.PowerButton(ctx)
	// The banner says whether the box's time is good: look again now and
	// then, so that a box that synchronised says so (it is printed only
	// when what it says changes).
	syncCheck := time.NewTicker(bannerRefresh)
	defer syncCheck.Stop()
	every := in.TimeSave
	if every <= 0 {
		every = TimeSave
	}
	timeSave := time.NewTicker(every)
	defer timeSave.Stop()
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
		case <-syncCheck.C:
			in.printBanner(cfg, nw, bc)
			if !in.clock.synced && in.synced(cfg) {
				in.clock.synced = true
				in.saveTime(perm, cfg, "synchronised")
			}
		case <-timeSave.C:
			in.saveTime(perm, cfg, "every "+every.String())
		case <-in.disks:
			if perm || !in.mountPerm(0) {
				continue
			}
			perm = true
			in.Log.Info("the persistent partition came after boot: applying it")
			in.removeStale(true)
			in.applySavedTime(cfg)
			in.startSeedsLate()
			if next, nbc, err := in.reloadLate(bc, nw); err == nil {
				cfg, bc = next, nbc
				in.printBanner(cfg, nw, bc)
			}
		case <-in.Reload:
			if next, nbc, err := in.reload(perm, bc, nw); err == nil {
				cfg, bc = next, nbc
			}
		case reply := <-in.reloads:
			next, nbc, err := in.reload(perm, bc, nw)
			if err == nil {
				cfg, bc = next, nbc
			}
			reply <- err
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
				if !ev.TimesOnly {
					// What the lease brought, and what of it was
					// clamped, on the screen as `ntpbox config` shows it.
					in.printConfig(cfg)
				}
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
	// Saved while the service still says whether it is synchronised.
	in.saveTime(perm, cfg, "shutdown")
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
func (in *Init) boot(ctx context.Context) (bool, *boxConfig) {
	for _, m := range mounts {
		if err := in.Sys.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			in.Log.Error("mount", "target", m.target, "err", err)
		}
	}
	if in.Mounted != nil {
		in.Mounted()
	}
	in.checkClock()
	in.setSysctls()
	// The services (their own users, group ServiceGID) read the merged
	// config and make the control socket here.
	if err := in.Sys.ServiceDir(filepath.Dir(RunConfig), ServiceGID); err != nil {
		in.Log.Error("make the services' directory", "err", err)
	}
	if err := in.Sys.DisableCtrlAltDel(); err != nil {
		in.Log.Error("disable Ctrl-Alt-Del", "err", err)
	}
	// Watch first, so that no disk that comes while the drivers load
	// and probe is missed.
	disks, err := in.Sys.WatchDisks(ctx)
	if err != nil {
		in.Log.Error("watch for disks: a disk that comes after boot is not seen", "err", err)
	}
	in.disks = disks
	mods, err := in.Sys.LoadDrivers(append([]string{"evdev"}, StorageModules...)...)
	if err != nil {
		in.Log.Error("load drivers", "err", err)
	}
	in.Log.Info("drivers loaded", "modules", mods)
	perm := in.mountPerm(permWait)
	in.removeStale(perm)
	if perm {
		in.applySavedTime(nil)
	}
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
	in.published.Store(cfg)
	if in.syslog != nil {
		in.syslog.follow(in.runCtx, syslogTarget(cfg))
	}
	b, err := config.Encode(cfg)
	if err == nil {
		err = in.Sys.WriteFile(RunConfig, b)
	}
	if err != nil {
		in.Log.Error("write the merged config", "file", RunConfig, "err", err)
	}
}

// bannerRefresh is how often init asks the service whether its time is
// good, for the banner.
const bannerRefresh = 30 * time.Second

// printConfig prints the merged config, each line with its origin, on
// every console at boot: the box has no shell, so this is where a person
// at its screen sees what it runs (ntpbox config prints the same).
func (in *Init) printConfig(cfg *config.Config) {
	var b strings.Builder
	if err := cfg.Render(&b); err != nil {
		return
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		out.WriteString("ntpbox: config: " + l + "\n")
	}
	fmt.Fprint(in.Console, out.String())
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
	// The web service (the status page's last 200 lines) reads the log
	// as a member of the services' group; reload stays root's (its peer
	// credentials are checked).
	if os.Getuid() == 0 {
		if err := os.Chown(in.LogSocket, 0, ServiceGID); err == nil {
			os.Chmod(in.LogSocket, 0o660)
		}
	}
	go func() {
		defer in.recoverLog("log socket")
		ServeLog(ctx, ln, in.Ring, in.Log, in.requestReload)
	}()
}

// requestReload is `ntpbox reload` on init's socket: Run's loop rereads
// the config and says whether it took it.
func (in *Init) requestReload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case in.reloads <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reload rereads the config layers (SIGHUP, `ntpbox reload`): when
// /perm/ntpbox.conf and cmdline.txt are valid, the merged config with
// the current lease is published (the services take new sources and
// allow rules without dropping a reply); otherwise nothing changes and
// the reason is logged and returned. The test hooks stay those of boot;
// network settings (address, gateway, hostname, interface) take effect
// at the next boot, and the log says so when they changed.
func (in *Init) reload(perm bool, cur *boxConfig, nw *network) (*config.Config, *boxConfig, error) {
	return in.reloadConfig(perm, cur, nw, false)
}

// reloadLate applies a persistent partition that came after boot: its
// layers are read as at boot (a bad line is set aside and shown, the
// last good config stands in for a bad file) and published as a reload
// publishes them; its drift and lease files come into use (merge).
func (in *Init) reloadLate(cur *boxConfig, nw *network) (*config.Config, *boxConfig, error) {
	cfg, next, err := in.reloadConfig(true, cur, nw, true)
	if err == nil {
		for _, p := range next.problems {
			in.Log.Error("config: " + p)
		}
	}
	return cfg, next, err
}

func (in *Init) reloadConfig(perm bool, cur *boxConfig, nw *network, lenient bool) (*config.Config, *boxConfig, error) {
	fail := func(err error) (*config.Config, *boxConfig, error) {
		in.Log.Error("reload refused; the running config stays", "err", err)
		return nil, nil, err
	}
	if !perm {
		return fail(errors.New("no persistent partition: there is no " + PermConfig + " to reload"))
	}
	next := in.loadConfig(perm)
	if lenient {
		// As at boot: bad parts were set aside.
	} else if next.base.Layer != config.LayerPerm {
		if _, err := in.Sys.ReadFile(PermConfig); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("%s", strings.Join(next.problems, "; ")))
		}
	}
	for _, p := range next.problems {
		if strings.Contains(p, PermCmdline) && !lenient {
			return fail(errors.New(p))
		}
	}
	next.hooks = cur.hooks
	cfg, err := next.merge(nw.lease)
	if err != nil {
		return fail(err)
	}
	if !reflect.DeepEqual(cfg.Network, nw.cfg.Network) {
		in.Log.Warn("reload: the network settings changed; they take effect at the next boot")
		cfg.Network = nw.cfg.Network
	}
	nw.cfg = cfg
	in.publish(cfg)
	in.printConfig(cfg)
	in.Log.Info("config reloaded", "file", next.base.Name)
	return cfg, next, nil
}

// recoverLog logs a panic instead of letting it end PID 1.
func (in *Init) recoverLog(what string) {
	if r := recover(); r != nil {
		in.Log.Error("panic", "in", what, "panic", r)
	}
}

func (in *Init) setHostname(name string) {
	in.hostname.Store(&name)
	if err := in.Sys.Sethostname(name); err != nil {
		in.Log.Error("set host name", "err", err)
	}
}
