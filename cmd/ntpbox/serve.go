package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ntpbox/ntpbox/box"
	"github.com/ntpbox/ntpbox/config"
)

const defaultConfig = "/etc/ntpbox.conf"

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	file := fs.String("f", defaultConfig, "config `file` (chrony.conf syntax)")
	noClock := fs.Bool("x", false, "never adjust the system clock (like chronyd -x)")
	debug := fs.Bool("d", false, "log debug messages")
	workers := fs.Int("workers", 0, "sockets per address (default: one per CPU)")
	fs.Parse(args)

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, ok := load(*file, log)
	if !ok {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := box.Run(ctx, cfg, box.Options{
		Logger:         log,
		Workers:        *workers,
		NoClockControl: *noClock,
	})
	if err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// load reads and validates a config file, logging its warnings.
func load(file string, log *slog.Logger) (*config.Config, bool) {
	cfg, warns, err := config.Load(file)
	for _, w := range warns {
		log.Warn(w.String())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox: %s\n", err)
		return nil, false
	}
	return cfg, true
}
