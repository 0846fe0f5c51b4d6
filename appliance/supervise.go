package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// DontRestart is the exit code with which a service asks not to be
// restarted, as in gokrazy.
const DontRestart = 125

// Exit is how a process ended.
type Exit struct {
	Code   int            // exit code; -1 when a signal killed it
	Signal syscall.Signal // the signal that killed it, or 0
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Process is a started child process.
type Process interface {
	Pid() int
	// Signal sends sig, unless the process has already been reaped.
	Signal(sig syscall.Signal) error
	// Done is closed once the process has ended and been reaped.
	Done() <-chan struct{}
	// Exit is how it ended; valid once Done is closed.
	Exit() Exit
}

// Starter starts processes; argv[0] is the program's path.
type Starter interface {
	Start(argv []string) (Process, error)
}

// Cred is who a service runs as: a user, its groups, and the only
// capabilities it keeps (raised as ambient capabilities, <linux/capability.h>
// numbers).
type Cred struct {
	UID, GID uint32
	Groups   []uint32
	Caps     []uintptr
}

// CredStarter is a Starter that can start a process as another user.
type CredStarter interface {
	// StartAs starts argv as cred; extra become its file descriptors 3
	// and on.
	StartAs(argv []string, cred *Cred, extra ...*os.File) (Process, error)
}

// Supervisor keeps one service running, as gokrazy's supervise does: it
// restarts the service whenever it ends, after a backoff that doubles
// from MinBackoff to MaxBackoff and starts over once a run lasted Stable,
// except when it exits with code 125 ([DontRestart]).
type Supervisor struct {
	Argv  []string
	Start Starter
	Log   *slog.Logger
	// ArgvFor, if set, gives the command line of each run (1 for the
	// first) instead of Argv.
	ArgvFor func(run int) []string
	// Cred, if set, is who the service runs as; Start must then be a
	// CredStarter.
	Cred *Cred
	// OnStart, if set, is called in its own goroutine after each start.
	OnStart func(p Process, run int)
	// FilesFor, if set, gives the files each run inherits as its
	// descriptors 3 and on (Cred must be set), and a function called
	// once that run has ended. The supervisor closes its copies of the
	// files once the process has started.
	FilesFor func(run int) (extra []*os.File, ended func(), err error)

	MinBackoff  time.Duration // default 1 s
	MaxBackoff  time.Duration // default 1 min
	Stable      time.Duration // default 1 min
	StopTimeout time.Duration // from SIGTERM to SIGKILL when stopping; default 10 s

	// Ready, if set, is polled every 100 ms after each start until it
	// reports true; then OnReady is called with the process and the
	// number of the run (1 for the first start).
	Ready   func() bool
	OnReady func(p Process, run int)
}

// Run supervises the service until ctx is done, then stops it: SIGTERM,
// and SIGKILL if it has not ended after StopTimeout. It returns once the
// service has ended.
func (s *Supervisor) Run(ctx context.Context) {
	minB, maxB := orDefault(s.MinBackoff, time.Second), orDefault(s.MaxBackoff, time.Minute)
	stable := orDefault(s.Stable, time.Minute)
	backoff := minB
	for run := 1; ctx.Err() == nil; run++ {
		started := time.Now()
		argv := s.Argv
		if s.ArgvFor != nil {
			argv = s.ArgvFor(run)
		}
		s.Log.Info("starting service", "run", run, "argv", argv)
		var extra []*os.File
		ended := func() {}
		var err error
		if s.FilesFor != nil {
			var e func()
			if extra, e, err = s.FilesFor(run); err != nil {
				err = fmt.Errorf("the files of run %d: %w", run, err)
			} else if e != nil {
				ended = e
			}
		}
		var p Process
		if err == nil {
			p, err = s.start(argv, extra)
		}
		for _, f := range extra {
			f.Close()
		}
		if err != nil {
			ended()
			s.Log.Error("start service", "err", err)
		} else {
			go s.watchReady(ctx, p, run)
			if s.OnStart != nil {
				go s.OnStart(p, run)
			}
			select {
			case <-p.Done():
				ended()
			case <-ctx.Done():
				s.stop(p)
				ended()
				return
			}
			exit := p.Exit()
			if exit.Code == DontRestart {
				s.Log.Warn("service exited with code 125: not restarting it", "pid", p.Pid())
				<-ctx.Done()
				return
			}
			s.Log.Error("service ended", "pid", p.Pid(), "how", exit.String(), "ran", time.Since(started).Round(time.Millisecond))
		}
		if time.Since(started) >= stable {
			backoff = minB
		}
		s.Log.Info("restarting service", "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxB)
	}
}

func (s *Supervisor) start(argv []string, extra []*os.File) (Process, error) {
	if s.Cred == nil {
		if len(extra) > 0 {
			return nil, fmt.Errorf("start %s: files to inherit need a Cred", argv[0])
		}
		return s.Start.Start(argv)
	}
	cs, ok := s.Start.(CredStarter)
	if !ok {
		return nil, fmt.Errorf("start %s: this starter cannot start a process as uid %d", argv[0], s.Cred.UID)
	}
	return cs.StartAs(argv, s.Cred, extra...)
}

func (s *Supervisor) watchReady(ctx context.Context, p Process, run int) {
	if s.Ready == nil {
		return
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !s.Ready() {
		select {
		case <-tick.C:
		case <-p.Done():
			return
		case <-ctx.Done():
			return
		}
	}
	if s.OnReady != nil {
		s.OnReady(p, run)
	}
}

// stop ends the service: SIGTERM, then SIGKILL after StopTimeout.
func (s *Supervisor) stop(p Process) {
	timeout := orDefault(s.StopTimeout, 10*time.Second)
	s.Log.Info("stopping service", "pid", p.Pid(), "signal", "SIGTERM")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		s.Log.Warn("signal service", "pid", p.Pid(), "err", err)
	}
	select {
	case <-p.Done():
		s.Log.Info("service stopped", "pid", p.Pid(), "how", p.Exit().String())
		return
	case <-time.After(timeout):
	}
	s.Log.Warn("service did not stop in time", "pid", p.Pid(), "after", timeout, "signal", "SIGKILL")
	p.Signal(syscall.SIGKILL)
	select {
	case <-p.Done():
	case <-time.After(timeout):
		s.Log.Error("service survived SIGKILL", "pid", p.Pid())
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
