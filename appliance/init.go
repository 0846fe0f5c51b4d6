package appliance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// Console sentinels, for people and for tests that watch the console.
const (
	SentinelServing  = "ntpbox: serving"
	SentinelPowerOff = "ntpbox: powering off"
)

// Hostname is the name the appliance gives itself.
const Hostname = "ntpbox"

// System is what init does to the operating system. [Linux] is the real
// one; tests use a fake.
type System interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Sethostname(name string) error
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte) error
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
	// ConfigureNetwork brings up lo and applies n; it returns the
	// network as configured (with DHCP, what the lease gave).
	ConfigureNetwork(n Network) (Network, error)
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
	Start   Starter
	Log     *slog.Logger
	Console io.Writer // where the sentinels go
	Self    string    // this binary, run as `Self serve -f /run/ntpbox.conf`
	// Shutdown receives the signals that power the machine off (SIGTERM,
	// SIGINT from Ctrl-Alt-Del, SIGPWR).
	Shutdown <-chan os.Signal
	// StopTimeout is how long the service gets to stop; default 10 s.
	StopTimeout time.Duration
	// Ring, if set, is served on the unix socket LogSocket (once /run is
	// mounted) to `ntpbox log`.
	Ring      *Ring
	LogSocket string
	// Entropy, if set, credits the random seeds at boot and keeps one
	// for the next (see Seeds); SeedRefresh is how often (default
	// SeedRefresh).
	Entropy     Entropy
	SeedRefresh time.Duration
	seeds       *Seeds
}

// Run boots the machine, runs the service until a shutdown signal or the
// power button, then stops it and powers off. It returns only if powering
// off failed.
func (in *Init) Run(ctx context.Context) error {
	ov, perm, base := in.boot()
	port := in.writeConfig(ov, base)
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	in.serveLog(logCtx)

	svcCtx, stopSvc := context.WithCancel(ctx)
	defer stopSvc()
	sup := &Supervisor{
		Argv:        []string{in.Self, "serve", "-f", RunConfig},
		Start:       in.Start,
		Log:         in.Log.With("service", "ntpbox serve"),
		StopTimeout: in.StopTimeout,
		Ready:       func() bool { return port == 0 || in.Sys.ListensUDP(port) },
		OnReady: func(p Process, run int) {
			fmt.Fprintf(in.Console, "%s (run %d, pid %d, udp port %d)\n", SentinelServing, run, p.Pid(), port)
			if ov.TestKill && run == 1 {
				in.Log.Warn("ntpbox.testkill: killing the service once", "pid", p.Pid())
				p.Signal(syscall.SIGKILL)
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
	select {
	case sig := <-in.Shutdown:
		reason = "signal " + sig.String()
	case <-in.Sys.PowerButton(ctx):
		reason = "power button"
	case <-ctx.Done():
		reason = "init stopped"
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

// boot takes the steps before the service starts: mounts, host name,
// drivers, the persistent partition, network. Each failure is logged;
// booting goes on. It reports whether PermDir is mounted, and returns the
// base config (see baseConfig).
func (in *Init) boot() (Overlay, bool, []byte) {
	for _, m := range mounts {
		if err := in.Sys.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			in.Log.Error("mount", "target", m.target, "err", err)
		}
	}
	in.checkClock()
	if err := in.Sys.Sethostname(Hostname); err != nil {
		in.Log.Error("set host name", "err", err)
	}
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
	base := in.baseConfig(perm)
	ov := in.overlay(perm)
	if cfg, err := check(base); err == nil {
		ov.Net = ov.Net.Over(NetworkFromConfig(cfg.Network))
	}
	if len(ov.Net.Addresses) == 0 && !ov.Net.DHCP {
		// A box plugged into a LAN with nothing configured asks DHCP for
		// its address: `address dhcp` is the default.
		in.Log.Info("no address in the config or on the command line: using DHCP, the default")
		ov.Net.DHCP = true
	}
	netw, err := in.Sys.ConfigureNetwork(ov.Net)
	ov.Net = netw
	if err != nil {
		in.Log.Error("configure network", "err", err)
	}
	if len(ov.Net.Addresses) > 0 {
		in.Log.Info("network configured", "addresses", ov.Net.Addresses, "gateway", ov.Net.Gateway,
			"dhcp", ov.Net.DHCP, "ntp_servers", ov.Net.NTPServers)
	} else {
		in.Log.Warn("no address yet: DHCP keeps asking; only lo is up until a lease arrives")
	}
	if err := in.Sys.WriteFile(NetConfig, []byte(ov.Net.Format())); err != nil {
		in.Log.Error("write", "file", NetConfig, "err", err)
	}
	if rc := ov.Net.ResolvConf(); rc != nil {
		if err := in.Sys.WriteFile("/etc/resolv.conf", rc); err != nil {
			in.Log.Error("write", "file", "/etc/resolv.conf", "err", err)
		}
	}
	return ov, perm, base
}

// baseConfig returns the config the box runs from: PermConfig when the
// persistent partition has a valid one, else the baked-in config; with
// the partition, the drift file goes there unless the base names one.
func (in *Init) baseConfig(perm bool) []byte {
	base, err := in.Sys.ReadFile(BakedConfig)
	if err != nil {
		in.Log.Error("read baked-in config", "err", err)
	}
	if perm {
		if b, err := in.Sys.ReadFile(PermConfig); err == nil {
			if _, _, err := config.ParseBytes(PermConfig, b); err != nil {
				in.Log.Error("persistent config is invalid; using the baked-in one", "err", err)
			} else {
				in.Log.Info("using the persistent config", "file", PermConfig)
				base = b
			}
		}
		if cfg, _, err := config.ParseBytes(RunConfig, base); err == nil && cfg.DriftFile == "" {
			base = append(append(bytes.TrimRight(base, "\n"), '\n'),
				"\n# added by init: the persistent partition is mounted\ndriftfile "+PermDrift+"\n"...)
		}
	}
	return base
}

// writeConfig writes /run/ntpbox.conf from the base config and returns
// the UDP port it serves. If the command line's lines make it invalid, it
// logs why and writes the config without them.
func (in *Init) writeConfig(ov Overlay, base []byte) int {
	if len(ov.Net.NTPServers) > 0 {
		base = append(append(bytes.TrimRight(base, "\n"), '\n'), "\n# added by init: NTP servers from DHCP (option 42)\n"...)
		for _, a := range ov.Net.NTPServers {
			base = append(base, "server "+a.String()+" iburst\n"...)
		}
	}
	conn := ov.Net.Connected()
	conf := ComposeConfig(base, conn, ov.Lines)
	cfg, err := check(conf)
	if err != nil {
		in.Log.Error("config with the kernel command line's lines is invalid; running without them", "err", err)
		conf = FallbackConfig(base, conn)
		if cfg, err = check(conf); err != nil {
			in.Log.Error("baked-in config is invalid", "err", err)
		}
	}
	if cfg != nil {
		if more := in.resolveDHCPAuto(cfg, ov.Net); more != "" {
			conf = append(append(bytes.TrimRight(conf, "\n"), '\n'), more...)
			if c, err := check(conf); err == nil {
				cfg = c
			} else {
				in.Log.Error("resolving dhcp auto", "err", err)
			}
		}
	}
	if err := in.Sys.WriteFile(RunConfig, conf); err != nil {
		in.Log.Error("write", "file", RunConfig, "err", err)
	}
	port := config.DefaultPort
	if cfg != nil {
		port = cfg.Port
	}
	return port
}

func check(conf []byte) (*config.Config, error) {
	cfg, _, err := config.ParseBytes(RunConfig, conf)
	return cfg, err
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
