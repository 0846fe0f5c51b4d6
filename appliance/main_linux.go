//go:build linux

package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Main is PID 1's main: ntpbox calls it when it runs as process 1. It
// never returns: if powering off fails it logs and waits forever, as
// PID 1 exiting panics the kernel.
func Main() {
	// A signal that Go's runtime handles by default would end PID 1:
	// take the shutdown ones first thing, and log the rest. (Catching
	// rather than ignoring them leaves the service's signals at their
	// defaults: ignored signals would survive exec.)
	shutdown := make(chan os.Signal, 1)
	signal.Notify(shutdown, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR)
	// SIGHUP rereads the config, as it does for most daemons.
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	other := make(chan os.Signal, 8)
	signal.Notify(other, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)

	// Init's log, the sentinels and the service's output go to every
	// console and to the ring that `ntpbox log` reads. Until /proc is
	// mounted the consoles are /dev/console, which is only the last
	// console= of the kernel command line; then every one of
	// /proc/consoles, so that a screen shows what the serial port does.
	ring := &Ring{}
	console := openConsole()
	consoles := &multiConsole{out: []io.Writer{console}}
	out := io.MultiWriter(ring, consoles)
	log := slog.New(slog.NewTextHandler(out, nil)).With("component", "init")
	go func() {
		for sig := range other {
			log.Info("ignoring signal", "signal", sig)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			rebootAfterPanic(log, out, r)
		}
		forever(log)
	}()
	log.Info("ntpbox init starting", "pid", os.Getpid())

	ctx := context.Background()
	reaper := NewReaper(log.With("component", "reaper"))
	reaper.Files = []*os.File{devNull(), console, console}
	if pr, pw, err := os.Pipe(); err != nil {
		log.Error("pipe for the service's output; it goes to the console only", "err", err)
	} else {
		// Init keeps pw open too, so the copy never sees the end.
		reaper.Files = []*os.File{devNull(), pw, pw}
		go CopyLines(out, pr)
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "in", "reaper", "panic", r)
			}
		}()
		reaper.Run(ctx)
	}()
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	in := &Init{
		Net:       LinuxNet{},
		SyncState: controlSyncState,
		Synced:    controlSynced,
		Mounted:   func() { openConsoles(consoles, console, log) },
		Sys:       &Linux{Log: log},
		Start:     reaper,
		Log:       log,
		Console:   out,
		Self:      self,
		Shutdown:  shutdown,
		Reload:    reload,
		Ring:      ring,
		LogSocket: LogSocket,
		Entropy:   &LinuxEntropy{},
	}
	if err := in.Run(ctx); err != nil {
		log.Error("power off", "err", err)
	}
}

// openConsole opens /dev/console for writing; the kernel already gave it
// to PID 1 as its stdout when the initramfs has /dev/console.
func openConsole() *os.File {
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		return f
	}
	return os.Stdout
}

func devNull() *os.File {
	if f, err := os.Open("/dev/null"); err == nil {
		return f
	}
	return os.Stdin
}

// openConsoles makes consoles every console in /proc/consoles.
func openConsoles(consoles *multiConsole, fallback *os.File, log *slog.Logger) {
	f, err := os.Open("/proc/consoles")
	if err != nil {
		log.Warn("consoles", "err", err)
		return
	}
	names := consoleNames(f)
	f.Close()
	var ws []io.Writer
	for _, n := range names {
		c, err := os.OpenFile("/dev/"+n, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			log.Warn("open console", "console", n, "err", err)
			continue
		}
		ws = append(ws, c)
	}
	if len(ws) == 0 {
		return
	}
	consoles.mu.Lock()
	consoles.out = ws
	consoles.mu.Unlock()
	log.Info("consoles", "names", names)
}

// panicReboot is how long a box that panicked waits before it reboots:
// long enough to read the message on the screen, short enough to be
// serving again soon.
const panicReboot = 10 * time.Second

// rebootAfterPanic says on every console that init panicked, and reboots
// the machine panicReboot later: a box in a closet is better rebooted
// than parked.
func rebootAfterPanic(log *slog.Logger, out io.Writer, r any) {
	log.Error("panic", "in", "init", "panic", r, "stack", string(debug.Stack()))
	fmt.Fprintf(out, "%s: %v; rebooting in %v\n", SentinelPanic, r, panicReboot)
	time.Sleep(panicReboot)
	unix.Sync()
	fmt.Fprintf(out, "ntpbox: rebooting\n")
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		log.Error("reboot", "err", err)
	}
}

func forever(log *slog.Logger) {
	log.Error("init has nothing left to do; waiting forever")
	for {
		time.Sleep(time.Hour)
	}
}
