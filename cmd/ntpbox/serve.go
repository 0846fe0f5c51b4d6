package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/box"
	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/cli"
	"github.com/ntpbox/ntpbox/internal/persist"
	"github.com/ntpbox/ntpbox/internal/sandbox"
)

const defaultConfig = "/etc/ntpbox.conf"

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	file := fs.String("f", defaultConfig, "config `file` (chrony.conf syntax)")
	merged := fs.String("c", "", "the merged config `file` init writes (JSON), followed as it changes; instead of -f")
	noClock := fs.Bool("x", false, "never adjust the system clock (like chronyd -x)")
	debug := fs.Bool("d", false, "log debug messages")
	workers := fs.Int("workers", 0, "sockets per address (default: one per CPU)")
	only := fs.String("service", "", "run only these `services` (comma-separated: ntp, dhcp, dns); default all")
	sandboxed := fs.Bool("sandbox", false, "set no_new_privs and load the services' seccomp filter before serving (Linux; the appliance does)")
	stateFD := fs.Int("statefd", -1, "keep the state files (drift, leases) through init over this inherited socket `fd` instead of writing them (the appliance's services may not write its disk)")
	testPerm := fs.String("testperm", "", "test hook: try to create a file in, write the config of and read the random seed of this `dir`, and log each outcome")
	testSyscall := fs.Duration("testsyscall", 0, "test hook: make a forbidden system call after this `delay` (the seccomp filter kills the process)")
	if pos, _ := cli.Parse(fs, args); len(pos) > 0 {
		fmt.Fprintf(os.Stderr, "ntpbox serve: unexpected argument %q\n", pos[0])
		return 2
	}
	var services []box.Service
	var names []string
	if *only != "" {
		for _, n := range strings.Split(*only, ",") {
			s, err := box.ParseService(strings.TrimSpace(n))
			if err != nil {
				fmt.Fprintf(os.Stderr, "ntpbox serve: -service: %v\n", err)
				return 2
			}
			services, names = append(services, s), append(names, string(s))
		}
	}
	if *sandboxed {
		if len(names) == 0 {
			for _, s := range box.Services {
				names = append(names, string(s))
			}
		}
		if err := sandbox.Apply(names); err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox serve: %v\n", err)
			return 1
		}
	}
	if *stateFD >= 0 {
		f := os.NewFile(uintptr(*stateFD), "state")
		if f == nil {
			fmt.Fprintf(os.Stderr, "ntpbox serve: -statefd %d: not an open file descriptor\n", *stateFD)
			return 2
		}
		persist.UseRemote(f)
	}
	if *testPerm != "" {
		tryPerm(*testPerm)
	}
	if *testSyscall > 0 {
		time.AfterFunc(*testSyscall, forbiddenSyscall)
	}

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	// The status page shows the last log lines: keep them beside stderr
	// (on the appliance, init keeps the log and the web service asks it).
	ring := &box.LogRing{}
	var logOut io.Writer = os.Stderr
	if *stateFD < 0 {
		logOut = io.MultiWriter(os.Stderr, ring)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	box.Version = versionLine()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := box.Options{}
	opts.Logger, opts.Workers, opts.NoClockControl = log, *workers, *noClock
	opts.Only = services
	if *stateFD < 0 {
		opts.WebLog = ring.Last
	} else {
		opts.WebLog = applianceLog
	}
	if *sandboxed {
		log.Info("sandboxed", "services", names)
	}

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
		updates, opts.Reload = reloader(ctx, *file, log)
	}
	if err := box.Run(ctx, cfg, updates, opts); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// reloader rereads file on SIGHUP and on `ntpbox reload` (the function
// it returns, which the control socket calls): a valid config goes out
// on the channel, for box.Run to apply (new sources and allow rules
// without closing a socket); a bad one is logged and refused, and the
// running config stays.
func reloader(ctx context.Context, file string, log *slog.Logger) (<-chan *config.Config, func() error) {
	updates := make(chan *config.Config, 1)
	var mu sync.Mutex
	reload := func() error {
		mu.Lock()
		defer mu.Unlock()
		cfg, warns, err := config.Load(file)
		for _, w := range warns {
			log.Warn(w.String())
		}
		if err != nil {
			log.Error("reload refused; the running config stays", "file", file, "err", err)
			return err
		}
		select { // a reload not yet applied is replaced by this one
		case <-updates:
		default:
		}
		updates <- cfg
		log.Info("config reloaded", "file", file, "sources", len(cfg.Sources), "access_rules", len(cfg.Access))
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	return updates, reload
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

// forbiddenSyscall is the -testsyscall hook: keyctl, which no service's
// seccomp filter allows (and which does nothing harmful without one).
func forbiddenSyscall() {
	fmt.Fprintln(os.Stderr, "ntpbox serve: -testsyscall: making a forbidden system call (keyctl)")
	syscall.Syscall(syscall.SYS_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, 0, 0)
	fmt.Fprintln(os.Stderr, "ntpbox serve: -testsyscall: the forbidden system call returned: no seccomp filter")
}

// tryPerm is the -testperm hook: what this process may do to the
// appliance's persistent partition, each attempt's outcome on stderr
// (the appliance's services must be refused all three).
func tryPerm(dir string) {
	say := func(what string, err error) {
		res := "done"
		if err != nil {
			res = err.Error()
		}
		fmt.Fprintf(os.Stderr, "ntpbox serve: -testperm: %s: %s\n", what, res)
	}
	f, err := os.OpenFile(filepath.Join(dir, "ntpbox-testperm"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		f.Close()
	}
	say("create", err)
	f, err = os.OpenFile(filepath.Join(dir, "ntpbox.conf"), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	say("write config", err)
	_, err = os.ReadFile(filepath.Join(dir, "random-seed"))
	say("read seed", err)
}

// applianceLog reads the last lines of init's log (`ntpbox log`) for the
// appliance's status page.
func applianceLog(ctx context.Context) ([]string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", appliance.LogSocket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "log\n"); err != nil {
		return nil, err
	}
	// Keep the last 200 lines of at most 4 MiB.
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(c, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 400 {
			lines = append(lines[:0:0], lines[len(lines)-200:]...)
		}
	}
	if len(lines) > 200 {
		lines = lines[len(lines)-200:]
	}
	return lines, sc.Err()
}
