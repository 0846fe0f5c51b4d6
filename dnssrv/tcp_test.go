package dnssrv

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startTCP runs a TCPServer for the test responder on 127.0.0.1:0; it is
// closed at cleanup, and Serve must then return nil.
func startTCP(t *testing.T, cfg TCPConfig) *TCPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveTCP(t, ln, cfg)
}

func serveTCP(t *testing.T, ln net.Listener, cfg TCPConfig) *TCPServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := NewTCPServer(ln, testResponder(t), cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// frame is a query for name's SRV records with id, as sent over TCP.
func frame(t *testing.T, id uint16, name string) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeSRV)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return withLength(b)
}

func withLength(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func dial(t *testing.T, s *TCPServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads one length-prefixed message from c.
func readReply(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		t.Fatalf("read the reply's length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read the reply: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack the reply: %v", err)
	}
	return m
}

// closedWithin reports whether the server closed c (EOF or a reset)
// within d, reading and discarding any replies before that.
func closedWithin(c net.Conn, d time.Duration) (bool, error) {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		return true, nil
	case isTimeout(err):
		return false, nil
	}
	return false, err
}

func mustWrite(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

const srvName = "_ntp._udp.time.example."

func TestTCPAnswers(t *testing.T) {
	s := startTCP(t, TCPConfig{})
	c := dial(t, s)

	// Two queries one after the other on one connection.
	for id := uint16(1); id <= 2; id++ {
		mustWrite(t, c, frame(t, id, srvName))
		m := readReply(t, c)
		if m.Id != id || m.Rcode != dns.RcodeSuccess || !m.Authoritative || len(m.Answer) != 3 {
			t.Fatalf("reply %d: %v", id, m)
		}
	}

	// Pipelined, in one write: a query, an answer (ignored, as over
	// UDP), a query outside the zone, a message whose question does not
	// unpack (FORMERR), a query with two questions (FORMERR), an UPDATE
	// (NOTIMP), and a query: replies in order.
	var b []byte
	b = append(b, frame(t, 10, srvName)...)
	resp := new(dns.Msg)
	resp.SetQuestion(srvName, dns.TypeSRV)
	resp.Response, resp.Id = true, 11
	rb, _ := resp.Pack()
	b = append(b, withLength(rb)...)
	b = append(b, frame(t, 12, "ntp.example.")...)
	broken := frame(t, 13, srvName)[2:]
	broken = withLength(broken[:len(broken)-3])
	b = append(b, broken...)
	two := new(dns.Msg)
	two.Id = 14
	two.Question = []dns.Question{{Name: srvName, Qtype: dns.TypeSRV, Qclass: dns.ClassINET}, {Name: srvName, Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	tb, _ := two.Pack()
	b = append(b, withLength(tb)...)
	upd := new(dns.Msg)
	upd.SetUpdate("time.example.")
	upd.Id = 15
	ub, _ := upd.Pack()
	b = append(b, withLength(ub)...)
	b = append(b, frame(t, 16, srvName)...)
	mustWrite(t, c, b)
	for _, want := range []struct {
		id    uint16
		rcode int
	}{{10, dns.RcodeSuccess}, {12, dns.RcodeRefused}, {13, dns.RcodeFormatError}, {14, dns.RcodeFormatError}, {15, dns.RcodeNotImplemented}, {16, dns.RcodeSuccess}} {
		m := readReply(t, c)
		if m.Id != want.id || m.Rcode != want.rcode || !m.Response {
			t.Fatalf("pipelined reply: id %d rcode %s, want id %d rcode %s", m.Id, dns.RcodeToString[m.Rcode], want.id, dns.RcodeToString[want.rcode])
		}
	}

	// The client closes: so does the server, without counting anything
	// against the client.
	c.Close()
	waitFor(t, "the connection to end", func() bool { return s.Stats().Active == 0 })
	st := s.Stats()
	if st.Accepted != 1 || st.Queries != 9 || st.TimedOut+st.Oversized+st.Malformed+st.Refused+st.MaxQueries != 0 {
		t.Errorf("stats %+v", st)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A query that is exactly DefaultMaxQuerySize long (an EDNS cookie and
// padding) is answered; one byte more is never read: the server closes
// the connection on the length alone, long before its read timeout.
func TestTCPMaxQuerySize(t *testing.T) {
	s := startTCP(t, TCPConfig{IdleTimeout: time.Minute, ReadTimeout: time.Minute})
	query := func(size int) []byte {
		m := new(dns.Msg)
		m.SetQuestion(srvName, dns.TypeSRV)
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef0123456789abcdef0123456789abcdef"})
		b, _ := m.Pack()
		opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, size-len(b)-4)})
		b, err := m.Pack()
		if err != nil || len(b) != size {
			t.Fatalf("query of %d bytes: %d, %v", size, len(b), err)
		}
		return withLength(b)
	}
	c := dial(t, s)
	mustWrite(t, c, query(DefaultMaxQuerySize))
	if m := readReply(t, c); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 3 {
		t.Fatalf("reply to a query of %d bytes: %v", DefaultMaxQuerySize, m)
	}

	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"one byte over the cap, whole", query(DefaultMaxQuerySize + 1)},
		{"0xffff declared, nothing after", []byte{0xff, 0xff}},
		{"0xffff declared, 1000 bytes after", append([]byte{0xff, 0xff}, make([]byte, 1000)...)},
	} {
		c := dial(t, s)
		mustWrite(t, c, tc.send)
		start := time.Now()
		closed, err := closedWithin(c, 5*time.Second)
		if err != nil || !closed {
			t.Errorf("%s: connection still open after %v (%v)", tc.name, time.Since(start), err)
		}
	}
	if st := s.Stats(); st.Oversized != 3 || st.Queries != 1 || st.TimedOut != 0 {
		t.Errorf("stats %+v, want 3 oversized, 1 query and no time-out", st)
	}

	// Shorter than a header: closed too.
	c = dial(t, s)
	mustWrite(t, c, []byte{0, 5, 1, 2, 3, 4, 5})
	if closed, err := closedWithin(c, 5*time.Second); err != nil || !closed {
		t.Errorf("a 5-byte message: connection still open (%v)", err)
	}
	if st := s.Stats(); st.Malformed != 1 {
		t.Errorf("stats %+v, want 1 malformed", st)
	}
}

// MaxConns+50 idle connections: the 50 beyond the cap are closed at once,
// and so is one more opened while the cap is reached; once the idle
// timeout has passed the slots are free and a query is answered.
func TestTCPConnCap(t *testing.T) {
	const max, extra = 8, 50
	idle := 4 * time.Second
	s := startTCP(t, TCPConfig{MaxConns: max, IdleTimeout: idle})
	opened := time.Now()
	var conns []net.Conn
	var closed, open int
	for range max + extra {
		c, err := net.Dial("tcp", s.Addr().String())
		if errors.Is(err, syscall.ECONNRESET) {
			closed++ // reset before the dial returned
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	// Look at every connection at once, for 1 s: well before the idle
	// timeout, so an open one is held by the server.
	type state struct {
		closed bool
		err    error
	}
	states := make(chan state, len(conns))
	for _, c := range conns {
		go func() {
			closed, err := closedWithin(c, time.Second)
			states <- state{closed, err}
		}()
	}
	for range conns {
		st := <-states
		if st.err != nil {
			t.Fatal(st.err)
		}
		if st.closed {
			closed++
		} else {
			open++
		}
	}
	if time.Since(opened) >= idle {
		t.Fatalf("the check took %v, beyond the idle timeout %v: the machine is too slow for this test", time.Since(opened), idle)
	}
	if closed != extra || open != max {
		t.Fatalf("%d connections closed at once and %d held, want %d and %d (stats %+v)", closed, open, extra, max, s.Stats())
	}
	if c, err := net.Dial("tcp", s.Addr().String()); !errors.Is(err, syscall.ECONNRESET) {
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write(frame(t, 1, srvName)) // may fail: the reset may be here
		if closed, err := closedWithin(c, time.Second); err != nil || !closed {
			t.Fatalf("a query at the cap: connection still open (%v)", err)
		}
	}
	if st := s.Stats(); st.Refused != extra+1 || st.Accepted != max || st.Queries != 0 {
		t.Errorf("stats at the cap %+v, want %d refused and %d accepted", st, extra+1, max)
	}

	waitFor(t, "the idle connections to time out", func() bool { return s.Stats().TimedOut == max })
	if d := time.Since(opened); d < idle {
		t.Errorf("idle connections closed after %v, before the idle timeout %v", d, idle)
	}
	c := dial(t, s)
	mustWrite(t, c, frame(t, 2, srvName))
	if m := readReply(t, c); m.Id != 2 || m.Rcode != dns.RcodeSuccess {
		t.Fatalf("after the time-outs: %v", m)
	}
}

// The idle timeout ends a silent connection and one that went quiet after
// a reply; the read timeout ends one that sends a length and then only
// part of its message.
func TestTCPTimeouts(t *testing.T) {
	const idle, read = 300 * time.Millisecond, 600 * time.Millisecond
	s := startTCP(t, TCPConfig{IdleTimeout: idle, ReadTimeout: read})
	for _, tc := range []struct {
		name string
		send func(c net.Conn)
		want time.Duration
	}{
		{"silent", func(net.Conn) {}, idle},
		{"quiet after a reply", func(c net.Conn) {
			mustWrite(t, c, frame(t, 1, srvName))
			readReply(t, c)
		}, idle},
		{"part of a message", func(c net.Conn) { mustWrite(t, c, frame(t, 2, srvName)[:10]) }, read},
		{"a length byte by byte, then nothing", func(c net.Conn) {
			mustWrite(t, c, []byte{0})
			time.Sleep(idle / 2)
			mustWrite(t, c, []byte{40})
		}, idle/2 + read},
	} {
		c := dial(t, s)
		start := time.Now()
		tc.send(c)
		closed, err := closedWithin(c, 10*time.Second)
		d := time.Since(start)
		if err != nil || !closed {
			t.Errorf("%s: still open after %v (%v)", tc.name, d, err)
			continue
		}
		t.Logf("%s: closed after %v", tc.name, d.Round(time.Millisecond))
		if d < tc.want {
			t.Errorf("%s: closed after %v, before the %v timeout", tc.name, d, tc.want)
		}
	}
	waitFor(t, "4 time-outs", func() bool { return s.Stats().TimedOut == 4 })
}

// After MaxQueries queries the server answers no more on the connection
// and closes it.
func TestTCPMaxQueries(t *testing.T) {
	s := startTCP(t, TCPConfig{MaxQueries: 3})
	c := dial(t, s)
	var b []byte
	for id := range uint16(5) {
		b = append(b, frame(t, id, srvName)...)
	}
	mustWrite(t, c, b)
	for id := range uint16(3) {
		if m := readReply(t, c); m.Id != id {
			t.Fatalf("reply id %d, want %d", m.Id, id)
		}
	}
	if closed, err := closedWithin(c, 5*time.Second); err != nil || !closed {
		t.Fatalf("after 3 queries: connection still open (%v)", err)
	}
	if st := s.Stats(); st.Queries != 3 || st.MaxQueries != 1 {
		t.Errorf("stats %+v", st)
	}
}

// failingListener returns err from Accept while failing is set, and
// counts the calls.
type failingListener struct {
	net.Listener
	err     error
	failing chan bool // holds the current value
	calls   chan int
}

func newFailingListener(ln net.Listener, err error) *failingListener {
	l := &failingListener{Listener: ln, err: err, failing: make(chan bool, 1), calls: make(chan int, 1)}
	l.failing <- true
	l.calls <- 0
	return l
}

func (l *failingListener) set(failing bool) { <-l.failing; l.failing <- failing }
func (l *failingListener) count() int       { n := <-l.calls; l.calls <- n; return n }

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls <- <-l.calls + 1
	f := <-l.failing
	l.failing <- f
	if f {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// An accept that fails at once, as it does with EMFILE while a client
// waits in the backlog, is retried after a back-off, not in a spin: a
// spinning loop calls Accept hundreds of thousands of times in 200 ms,
// the back-off (5, 10, 20, 40, 80 ms ...) about 6 times. Once accepting
// works again, queries are answered.
func TestTCPAcceptBackoff(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.EINVAL} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fl := newFailingListener(ln, &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: os.NewSyscallError("accept4", errno)})
			s := serveTCP(t, fl, TCPConfig{})
			// A window of time is what this measures: sleeping is the
			// point here.
			time.Sleep(200 * time.Millisecond)
			n := fl.count()
			t.Logf("%d accepts in 200 ms", n)
			if n > 12 {
				t.Errorf("%d accepts in 200 ms: the accept loop spins", n)
			}
			if st := s.Stats(); st.AcceptErrors+1 < uint64(n) || st.AcceptErrors > uint64(n)+1 {
				t.Errorf("AcceptErrors %d after %d calls", st.AcceptErrors, n)
			}
			fl.set(false)
			c := dial(t, s)
			mustWrite(t, c, frame(t, 7, srvName))
			if m := readReply(t, c); m.Id != 7 {
				t.Fatalf("reply id %d", m.Id)
			}
		})
	}
}
