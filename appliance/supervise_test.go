package appliance

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The backoff doubles from 1 s to the cap while the service keeps dying
// at once, and starts over after a run that lasted Stable.
func TestSupervisorBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStarter()
		s := &Supervisor{Argv: []string{"/init", "serve"}, Start: st, Log: quietLog(),
			MaxBackoff: 4 * time.Second, Stable: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		var gaps []time.Duration
		last := time.Now()
		for i, ran := range []time.Duration{0, 0, 0, 0, 2 * time.Minute, 0} {
			p := <-st.started
			if i > 0 {
				gaps = append(gaps, time.Since(last))
			}
			time.Sleep(ran)
			p.end(Exit{Code: 1})
			last = time.Now()
		}
		<-st.started
		gaps = append(gaps, time.Since(last))
		want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 1 * time.Second, 2 * time.Second}
		if !reflect.DeepEqual(gaps, want) {
			t.Errorf("restart delays %v, want %v", gaps, want)
		}
		cancel()
		<-done
	})
}

// Exit code 125 means "do not restart me", as in gokrazy; a failed start
// is retried like a crash.
func TestSupervisorDontRestartAndFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStarter()
		st.failNext = 1
		s := &Supervisor{Argv: []string{"/init"}, Start: st, Log: quietLog()}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		p := <-st.started // after the failed start and 1 s
		p.end(Exit{Code: DontRestart})
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(st.procs); n != 1 {
			t.Errorf("%d starts after exit code 125, want 1", n)
		}
		select {
		case <-done:
			t.Fatal("Run returned before its context ended")
		default:
		}
		cancel()
		<-done
	})
}

// Stopping sends SIGTERM and waits; a service that ignores it gets
// SIGKILL after StopTimeout.
func TestSupervisorStop(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ignore   bool
		want     []syscall.Signal
		duration time.Duration
	}{
		{"stops on SIGTERM", false, []syscall.Signal{syscall.SIGTERM}, 0},
		{"killed after the timeout", true, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := newFakeStarter()
				if tc.ignore {
					st.onSignal = func(p *fakeProc, sig syscall.Signal) {
						if sig == syscall.SIGKILL {
							p.end(Exit{Code: -1, Signal: sig})
						}
					}
				}
				s := &Supervisor{Argv: []string{"/init"}, Start: st, Log: quietLog(), StopTimeout: 3 * time.Second}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { s.Run(ctx); close(done) }()
				p := <-st.started
				start := time.Now()
				cancel()
				<-done
				if got := p.Signals(); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("signals %v, want %v", got, tc.want)
				}
				if took := time.Since(start); took != tc.duration {
					t.Errorf("stopping took %v, want %v", took, tc.duration)
				}
				if len(st.procs) != 1 {
					t.Errorf("%d starts, want 1: a stopped service is not restarted", len(st.procs))
				}
			})
		})
	}
}

// OnReady is called once per run, when Ready first holds.
func TestSupervisorReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStarter()
		var listening atomic.Bool
		var mu sync.Mutex
		var runs []int
		s := &Supervisor{Argv: []string{"/init"}, Start: st, Log: quietLog(),
			Ready: listening.Load,
			OnReady: func(p Process, run int) {
				mu.Lock()
				defer mu.Unlock()
				runs = append(runs, run)
			}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		p := <-st.started
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		if len(runs) != 0 {
			t.Fatalf("OnReady before Ready: %v", runs)
		}
		mu.Unlock()
		listening.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		p.end(Exit{Code: 2})
		<-st.started
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		if !reflect.DeepEqual(runs, []int{1, 2}) {
			t.Errorf("OnReady runs %v, want [1 2]", runs)
		}
		mu.Unlock()
		cancel()
		<-done
	})
}
