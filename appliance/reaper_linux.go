package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reaper is PID 1's only caller of wait: it reaps every child, the ones
// it started (whose exit it hands to their [Process]) and the orphans the
// kernel gives to PID 1 (which it logs). It is a [Starter].
//
// One lock covers starting a process and recording its pid, and handing
// out an exit, so an exit is never reaped before its pid is known, and a
// signal never reaches a recycled pid.
type Reaper struct {
	Log   *slog.Logger
	Files []*os.File // the children's stdin, stdout and stderr; default os.Stdin, os.Stdout, os.Stderr

	mu      sync.Mutex
	running map[int]*child
}

// NewReaper returns a Reaper; call Run to start reaping.
func NewReaper(log *slog.Logger) *Reaper {
	return &Reaper{Log: log, running: map[int]*child{}}
}

// Run reaps children until ctx is done.
func (r *Reaper) Run(ctx context.Context) {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	for {
		r.reapAll()
		select {
		case <-sigchld:
		case <-ctx.Done():
			return
		}
	}
}

// reapAll reaps every child that has ended, without blocking.
func (r *Reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.exited(pid, exitOf(ws))
	}
}

func (r *Reaper) exited(pid int, e Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.running[pid]
	if !ok {
		r.Log.Info("reaped orphan", "pid", pid, "how", e.String())
		return
	}
	delete(r.running, pid)
	c.exit = e
	close(c.done)
}

func exitOf(ws unix.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal()}
	}
	return Exit{Code: ws.ExitStatus()}
}

// Start starts argv in its own process group with the Reaper's files.
func (r *Reaper) Start(argv []string) (Process, error) { return r.StartAs(argv, nil) }

// StartAs is Start as the user, groups and capabilities of cred (nil:
// as init, root with every capability). The capabilities are raised as
// ambient ones, so that they survive the change of user and the exec,
// and the process has no others.
func (r *Reaper) StartAs(argv []string, cred *Cred, extra ...*os.File) (Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start: empty argv")
	}
	files := r.Files
	if files == nil {
		files = []*os.File{os.Stdin, os.Stdout, os.Stderr}
	}
	fds := make([]uintptr, 0, len(files)+len(extra))
	for _, f := range append(files[:len(files):len(files)], extra...) {
		fds = append(fds, f.Fd())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sys := &syscall.SysProcAttr{Setpgid: true}
	if cred != nil {
		sys.Credential = &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups}
		sys.AmbientCaps = cred.Caps
	}
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: fds,
		Sys:   sys,
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	c := &child{r: r, pid: pid, done: make(chan struct{})}
	r.running[pid] = c
	return c, nil
}

type child struct {
	r    *Reaper
	pid  int
	done chan struct{}
	exit Exit // set before done is closed
}

func (c *child) Pid() int              { return c.pid }
func (c *child) Done() <-chan struct{} { return c.done }
func (c *child) Exit() Exit            { <-c.done; return c.exit }

// Signal signals the child's process group, so that anything it started
// gets the signal too; a child already reaped is not signalled.
func (c *child) Signal(sig syscall.Signal) error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if _, ok := c.r.running[c.pid]; !ok {
		return nil
	}
	if err := unix.Kill(-c.pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill %d %s: %w", c.pid, sig, err)
	}
	return nil
}
