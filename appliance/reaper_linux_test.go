package appliance

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The reaper hands each child's exit to its Process and reaps orphans:
// this test process becomes a child subreaper, as PID 1 is, so the
// grandchild a shell leaves behind is reparented to it. It waits for
// every child of the test process, so it runs alone.
func TestReaper(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	var logs syncBuffer
	r := NewReaper(slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	wait := func(p Process) Exit {
		t.Helper()
		select {
		case <-p.Done():
			return p.Exit()
		case <-time.After(10 * time.Second):
			t.Fatalf("pid %d not reaped", p.Pid())
			return Exit{}
		}
	}
	for _, tc := range []struct {
		name string
		argv []string
		sig  syscall.Signal
		want Exit
	}{
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, 0, Exit{Code: 3}},
		{"exit 125", []string{"/bin/sh", "-c", "exit 125"}, 0, Exit{Code: DontRestart}},
		{"SIGTERM", []string{"/bin/sh", "-c", "sleep 30"}, syscall.SIGTERM, Exit{Code: -1, Signal: syscall.SIGTERM}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.Start(tc.argv)
			if err != nil {
				t.Fatal(err)
			}
			if tc.sig != 0 {
				if err := p.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			if got := wait(p); got != tc.want {
				t.Errorf("exit %v, want %v", got, tc.want)
			}
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Errorf("signalling a reaped process: %v", err)
			}
		})
	}

	t.Run("orphan", func(t *testing.T) {
		before := strings.Count(logs.String(), "reaped orphan")
		p, err := r.Start([]string{"/bin/sh", "-c", "sleep 0.2 & exit 0"})
		if err != nil {
			t.Fatal(err)
		}
		wait(p)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(logs.String(), "reaped orphan") == before {
			if time.Now().After(deadline) {
				t.Fatalf("orphan not reaped; log:\n%s", logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	if _, err := r.Start([]string{"/nonexistent/ntpbox"}); err == nil {
		t.Error("starting a missing binary did not fail")
	}
}
