package dnssrv

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// emfileChild is the environment variable that makes
// TestTCPAcceptEMFILE the child process.
const emfileChild = "NTPBOX_DNSSRV_EMFILE_CHILD"

// A real EMFILE: a child process serves TCP with its file descriptors
// used up (RLIMIT_NOFILE lowered, the rest taken by /dev/null), while a
// client waits in its backlog. Each accept then fails at once, and the
// listener stays readable: the child counts the Accept calls in 300 ms.
// Then it frees a few descriptors and the waiting query is answered.
func TestTCPAcceptEMFILE(t *testing.T) {
	if os.Getenv(emfileChild) == "1" {
		emfileServe(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTCPAcceptEMFILE$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChild+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var childOut []string
	defer func() {
		stdin.Close()
		io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v\n%s", err, strings.Join(childOut, "\n"))
		}
	}()
	lines := bufio.NewScanner(stdout)
	// expect returns the rest of the child's next line starting with
	// prefix.
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			childOut = append(childOut, lines.Text())
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return rest
			}
		}
		t.Fatalf("child: no line %q\n%s", prefix, strings.Join(childOut, "\n"))
		return ""
	}
	addr := expect("listening ")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustWrite(t, c, frame(t, 42, srvName))
	fmt.Fprintln(stdin, "dialed")
	n, err := strconv.Atoi(expect("accepts in 300ms: "))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("with EMFILE: %d accepts in 300 ms", n)
	if n > 15 {
		t.Errorf("%d accepts in 300 ms with EMFILE: the accept loop spins", n)
	}
	expect("freed")
	if m := readReply(t, c); m.Id != 42 {
		t.Errorf("reply id %d, want 42", m.Id)
	}
}

// countingListener counts Accept calls.
type countingListener struct {
	net.Listener
	calls atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	return l.Listener.Accept()
}

// emfileServe is the child of TestTCPAcceptEMFILE; it talks to the parent
// on stdin and stdout.
func emfileServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	s := NewTCPServer(cl, testResponder(t), TCPConfig{Logger: slog.New(slog.DiscardHandler)})
	go s.Serve()
	defer s.Close()

	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		held = append(held, f)
	}
	if len(held) < 4 {
		t.Fatalf("only %d descriptors to take", len(held))
	}
	fmt.Println("listening", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "dialed" {
		t.Fatalf("parent: %q", in.Text())
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().AcceptErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed accept within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	base := cl.calls.Load()
	time.Sleep(300 * time.Millisecond) // the window the calls are counted in
	fmt.Println("accepts in 300ms:", cl.calls.Load()-base)
	for _, f := range held[:4] {
		f.Close()
	}
	fmt.Println("freed")
	for in.Scan() {
	}
}
