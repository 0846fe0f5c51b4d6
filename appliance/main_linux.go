//go:build linux

package appliance

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
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
	other := make(chan os.Signal, 8)
	signal.Notify(other, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)

	console := openConsole()
	log := slog.New(slog.NewTextHandler(console, nil)).With("component", "init")
	go func() {
		for sig := range other {
			log.Info("ignoring signal", "signal", sig)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic", "in", "init", "panic", r)
		}
		forever(log)
	}()
	log.Info("ntpbox init starting", "pid", os.Getpid())

	ctx := context.Background()
	reaper := NewReaper(log.With("component", "reaper"))
	reaper.Files = []*os.File{devNull(), console, console}
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
		Sys:      &Linux{Log: log},
		Start:    reaper,
		Log:      log,
		Console:  console,
		Self:     self,
		Shutdown: shutdown,
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

func forever(log *slog.Logger) {
	log.Error("init has nothing left to do; waiting forever")
	for {
		time.Sleep(time.Hour)
	}
}
