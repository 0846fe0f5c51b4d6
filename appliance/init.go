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

	"github.com/ntpbox/ntpbox/ntpserver/config"
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
	// ConfigureNetwork brings up lo and applies n.
	ConfigureNetwork(n Network) error
	// ListensUDP reports whether a socket is bound to the UDP port.
	ListensUDP(port int) bool
	// PowerButton returns a channel that receives when the power button
	// is pressed (nil when the machine has none).
	PowerButton(ctx context.Context) <-chan struct{}
	// KillAll sends sig to every process but init.
	KillAll(sig syscall.Signal)
	Sync()
	PowerOff() error
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
}

// Run boots the machine, runs the service until a shutdown signal or the
// power button, then stops it and powers off. It returns only if powering
// off failed.
func (in *Init) Run(ctx context.Context) error {
	ov := in.boot()
	port := in.writeConfig(ov)

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
	in.Sys.Sync()
	fmt.Fprintf(in.Console, "%s (%s)\n", SentinelPowerOff, reason)
	return in.Sys.PowerOff()
}

// boot takes the steps before the service starts: mounts, host name,
// drivers, network. Each failure is logged; booting goes on.
func (in *Init) boot() Overlay {
	for _, m := range mounts {
		if err := in.Sys.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			in.Log.Error("mount", "target", m.target, "err", err)
		}
	}
	if err := in.Sys.Sethostname(Hostname); err != nil {
		in.Log.Error("set host name", "err", err)
	}
	if err := in.Sys.DisableCtrlAltDel(); err != nil {
		in.Log.Error("disable Ctrl-Alt-Del", "err", err)
	}
	var ov Overlay
	if b, err := in.Sys.ReadFile("/proc/cmdline"); err != nil {
		in.Log.Error("read kernel command line", "err", err)
	} else {
		params, _ := ReadCmdline(bytes.NewReader(b))
		var errs []error
		ov, errs = ParseOverlay(params)
		for _, err := range errs {
			in.Log.Error("ignored", "err", err)
		}
	}
	mods, err := in.Sys.LoadDrivers("evdev")
	if err != nil {
		in.Log.Error("load drivers", "err", err)
	}
	in.Log.Info("drivers loaded", "modules", mods)
	if err := in.Sys.ConfigureNetwork(ov.Net); err != nil {
		in.Log.Error("configure network", "err", err)
	} else if len(ov.Net.Addresses) > 0 {
		in.Log.Info("network configured", "addresses", ov.Net.Addresses, "gateway", ov.Net.Gateway)
	} else {
		in.Log.Warn("no ntpbox.address= on the kernel command line: only lo is up")
	}
	if err := in.Sys.WriteFile(NetConfig, []byte(ov.Net.Format())); err != nil {
		in.Log.Error("write", "file", NetConfig, "err", err)
	}
	if rc := ov.Net.ResolvConf(); rc != nil {
		if err := in.Sys.WriteFile("/etc/resolv.conf", rc); err != nil {
			in.Log.Error("write", "file", "/etc/resolv.conf", "err", err)
		}
	}
	return ov
}

// writeConfig writes /run/ntpbox.conf and returns the UDP port it
// serves. If the command line's lines make it invalid, it logs why and
// writes the config without them.
func (in *Init) writeConfig(ov Overlay) int {
	baked, err := in.Sys.ReadFile(BakedConfig)
	if err != nil {
		in.Log.Error("read baked-in config", "err", err)
	}
	conn := ov.Net.Connected()
	conf := ComposeConfig(baked, conn, ov.Lines)
	cfg, err := check(conf)
	if err != nil {
		in.Log.Error("config with the kernel command line's lines is invalid; running without them", "err", err)
		conf = FallbackConfig(baked, conn)
		if cfg, err = check(conf); err != nil {
			in.Log.Error("baked-in config is invalid", "err", err)
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

// recoverLog logs a panic instead of letting it end PID 1.
func (in *Init) recoverLog(what string) {
	if r := recover(); r != nil {
		in.Log.Error("panic", "in", what, "panic", r)
	}
}
