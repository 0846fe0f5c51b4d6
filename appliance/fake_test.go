package appliance

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// fakeProc is a Process the test ends by hand.
type fakeProc struct {
	pid     int
	done    chan struct{}
	once    sync.Once
	exit    Exit
	mu      sync.Mutex
	signals []syscall.Signal
	// onSignal, if set, decides what a signal does; by default SIGTERM
	// and SIGKILL end the process.
	onSignal func(p *fakeProc, sig syscall.Signal)
}

func (p *fakeProc) Pid() int              { return p.pid }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) Exit() Exit            { <-p.done; return p.exit }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	p.mu.Unlock()
	if p.onSignal != nil {
		p.onSignal(p, sig)
	} else if sig == syscall.SIGTERM || sig == syscall.SIGKILL {
		p.end(Exit{Code: -1, Signal: sig})
	}
	return nil
}

func (p *fakeProc) end(e Exit) {
	p.once.Do(func() { p.exit = e; close(p.done) })
}

func (p *fakeProc) Signals() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]syscall.Signal(nil), p.signals...)
}

// fakeStarter hands out fakeProcs and records them.
type fakeStarter struct {
	mu       sync.Mutex
	procs    []*fakeProc
	argv     [][]string
	creds    []*Cred
	failNext int // fail this many starts first
	onSignal func(p *fakeProc, sig syscall.Signal)
	started  chan *fakeProc
}

func newFakeStarter() *fakeStarter { return &fakeStarter{started: make(chan *fakeProc, 100)} }

func (s *fakeStarter) Start(argv []string) (Process, error) { return s.StartAs(argv, nil) }

func (s *fakeStarter) StartAs(argv []string, cred *Cred, extra ...*os.File) (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return nil, fmt.Errorf("start %s: no such file", argv[0])
	}
	p := &fakeProc{pid: 100 + len(s.procs), done: make(chan struct{}), onSignal: s.onSignal}
	s.procs = append(s.procs, p)
	s.argv = append(s.argv, argv)
	s.creds = append(s.creds, cred)
	s.started <- p
	return p, nil
}

func newSlog(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// syncBuffer is a log destination safe for the reaper's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
