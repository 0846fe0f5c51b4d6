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
	merged := fs.String("c", "", "the merged config `file` init writes (JSON), followed as it changes; instead of -f")
	noClock := fs.Bool("x", false, "never adjust the system clock (like chronyd -x)")
	debug := fs.Bool("d", false, "log debug messages")
	workers := fs.Int("workers", 0, "sockets per address (default: one per CPU)")
	fs.Parse(args)

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := box.Options{}
	opts.Logger, opts.Workers, opts.NoClockControl = log, *workers, *noClock

	var cfg *config.Config
	var updates <-chan *config.Config
	if *merged != "" {
		var err error
		cfg, updates, err = box.FollowFile(ctx, *merged, log)
		if err != nil {
			log.Error("serve", "err", err)
			return 1
		}
	} else {
		var ok bool
		if cfg, ok = load(*file, log); !ok {
			return 1
		}
	}
	if err := box.Run(ctx, cfg, updates, opts); err != nil {
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
