package appliance

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serveRing(t *testing.T) (*Ring, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "run", "ntpbox", "init.sock")
	ln, err := ListenLog(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Ring{}
	logs := &syncBuffer{}
	done := make(chan struct{})
	go func() { ServeLog(ctx, ln, r, newSlog(logs), nil); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if logs.String() != "" {
			t.Errorf("server logged: %s", logs.String())
		}
	})
	return r, sock
}

// `ntpbox log -s SOCKET` prints the ring.
func TestLogCommand(t *testing.T) {
	r, sock := serveRing(t)
	r.Write([]byte("time=... level=INFO msg=\"starting service\" component=init\n"))
	r.Write([]byte("ntpbox: serving (run 1, pid 86, udp port 123)\n"))
	var out, errb bytes.Buffer
	if code := logCommand([]string{"-s", sock}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), string(r.Bytes()); got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	errb.Reset()
	if code := logCommand([]string{"-s", sock + ".missing"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "init.sock.missing") {
		t.Errorf("missing socket: exit %d, %q", code, errb.String())
	}
}

// A client that sends nothing gets the ring after a second; one that
// shuts its side gets it at once.
func TestLogSocketPlainClient(t *testing.T) {
	r, sock := serveRing(t)
	r.Write([]byte("hello\n"))
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.UnixConn).CloseWrite()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello\n" {
		t.Errorf("read %q, %v", b, err)
	}
}

// "follow" gets the ring, then each new line.
func TestLogSocketFollow(t *testing.T) {
	r, sock := serveRing(t)
	r.Write([]byte("old\n"))
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "follow\n")
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); l != "old\n" {
		t.Fatalf("first line %q, %v", l, err)
	}
	for _, want := range []string{"new 1\n", "new 2\n"} {
		r.Write([]byte(want))
		if l, err := br.ReadString('\n'); l != want {
			t.Fatalf("got %q, %v, want %q", l, err, want)
		}
	}
}

// CopyLines hands each line to the ring whole, and a line longer than
// RingLineMax in pieces.
func TestCopyLines(t *testing.T) {
	r := &Ring{}
	var console bytes.Buffer
	in := "one\n" + strings.Repeat("z", RingLineMax+10) + "\ntwo"
	CopyLines(io.MultiWriter(r, &console), strings.NewReader(in))
	if console.String() != in {
		t.Errorf("console got %d bytes, want %d", console.Len(), len(in))
	}
	lines := strings.Split(string(r.Bytes()), "\n")
	if len(lines) != 5 || lines[0] != "one" || len(lines[1]) != RingLineMax || len(lines[2]) != 10 || lines[3] != "two" {
		t.Errorf("ring lines %d: %q %d %d %q", len(lines), lines[0], len(lines[1]), len(lines[2]), lines[3])
	}
}

// Init serves its ring on LogSocket once booted: `ntpbox log` shows what
// went to the console.
func TestInitServesLog(t *testing.T) {
	sys := newFakeSystem("console=ttyS0")
	ring := &Ring{}
	console := &syncBuffer{}
	sock := filepath.Join(t.TempDir(), "init.sock")
	shutdown := make(chan os.Signal, 1)
	in := &Init{Sys: sys, Net: newFakeNet(sys), Start: newFakeStarter(), Log: newSlog(io.MultiWriter(ring, console)),
		Console: io.MultiWriter(ring, console), Self: "/init", Shutdown: shutdown,
		StopTimeout: time.Second, Ring: ring, LogSocket: sock}
	done := make(chan error, 1)
	go func() { done <- in.Run(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	var out, errb bytes.Buffer
	for !strings.Contains(out.String(), SentinelServing) {
		if time.Now().After(deadline) {
			t.Fatalf("ntpbox log never showed %q; it showed:\n%s%s", SentinelServing, out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
		out.Reset()
		errb.Reset()
		logCommand([]string{"-s", sock}, &out, &errb)
	}
	if !strings.Contains(out.String(), `msg="drivers loaded"`) {
		t.Errorf("ntpbox log lacks init's log:\n%s", out.String())
	}
	shutdown <- syscall.SIGTERM
	<-sys.powerOff
	<-done
}

// failingListener fails its first n Accepts with EMFILE.
type failingListener struct {
	net.Listener
	n int
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n > 0 {
		l.n--
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// An accept that fails (EMFILE) is waited out, 5 ms doubling, and the
// socket serves again afterwards: `ntpbox log` still works.
func TestServeLogWaitsOutAcceptErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "ntpbox", "init.sock")
	ln, err := ListenLog(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Ring{}
	r.Write([]byte("a line before\n"))
	logs := &syncBuffer{}
	done := make(chan struct{})
	began := time.Now()
	go func() { ServeLog(ctx, &failingListener{Listener: ln, n: 3}, r, newSlog(logs), nil); close(done) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), "a line before") {
		t.Fatalf("after 3 failed accepts: %q", b)
	}
	if d := time.Since(began); d < 35*time.Millisecond {
		t.Errorf("3 failed accepts took %v: no backoff", d)
	}
	if n := strings.Count(logs.String(), "too many open files"); n != 3 {
		t.Errorf("%d accept errors logged, want 3:\n%s", n, logs.String())
	}
}
