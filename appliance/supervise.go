package appliance

import (
	"context"
	"fmt"
	"log/slog"
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

// Supervisor keeps one service running, as gokrazy's supervise does: it
// restarts the service whenever it ends, after a backoff that doubles
// from MinBackoff to MaxBackoff and starts over once a run lasted Stable,
// except when it exits with code 125 ([DontRestart]).
type Supervisor struct {
	Argv  []string
	Start Starter
	Log   *slog.Logger

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
		s.Log.Info("starting service", "run", run, "argv", s.Argv)
		p, err := s.Start.Start(s.Argv)
		if err != nil {
			s.Log.Error("start service", "err", err)
		} else {
			go s.watchReady(ctx, p, run)
			select {
			case <-p.Done():
			case <-ctx.Done():
				s.stop(p)
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
