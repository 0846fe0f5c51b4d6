package dnssrv

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/ntpbox/ntpbox/internal/backoff"
)

// Defaults for TCPConfig fields left zero. RFC 7766 §6.2.3 leaves the
// idle period to the server ("of the order of seconds"). The box's TCP
// clients are stub resolvers and dig that fell back from a truncated UDP
// answer: they send their query as soon as the connection is up, and
// pipeline any others at once, so a few seconds is plenty for a real
// client on a LAN, and it is what one misbehaving client can hold a slot
// for without sending a whole query.
const (
	// DefaultMaxConns is how many TCP connections are served at once;
	// the next are closed as soon as they are accepted.
	DefaultMaxConns = 64
	// DefaultIdleTimeout bounds the wait for the first byte of a query:
	// after the connection is accepted and after each reply.
	DefaultIdleTimeout = 5 * time.Second
	// DefaultReadTimeout bounds the rest of a query once its length
	// has arrived.
	DefaultReadTimeout = 2 * time.Second
	// DefaultWriteTimeout bounds the writing of each reply.
	DefaultWriteTimeout = 2 * time.Second
	// DefaultMaxQuerySize is the largest query read. A query is a 12
	// byte header, one question (at most 255+4 bytes) and an OPT record
	// (11 bytes) whose options a stub sends: a cookie (at most 44
	// bytes), a client subnet (at most 24), keepalive and NSID. That is
	// at most 365 bytes, and 384 once padded to a block of 128 (RFC
	// 8467); 512 leaves room. The box answers only questions, so a
	// longer message is not a query it serves.
	DefaultMaxQuerySize = 512
	// DefaultMaxQueries is how many queries one connection may send
	// before the server closes it, so that a client cannot hold a slot
	// for ever by asking now and then.
	DefaultMaxQueries = 100
)

// Accept back-off after an error, as net/http's Server.Serve does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// TCPConfig bounds a TCPServer. Zero fields take the defaults above.
type TCPConfig struct {
	MaxConns     int
	IdleTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	MaxQuerySize int
	MaxQueries   int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

func (c *TCPConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxQuerySize, DefaultMaxQuerySize)
	def(&c.MaxQueries, DefaultMaxQueries)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.ReadTimeout, DefaultReadTimeout)
	defDur(&c.WriteTimeout, DefaultWriteTimeout)
	c.MaxQuerySize = min(c.MaxQuerySize, dns.MaxMsgSize)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// TCPStats counts what a TCPServer did since it was made (and how many
// connections it serves now).
type TCPStats struct {
	Active       uint64 // connections being served now
	Accepted     uint64 // connections served
	Refused      uint64 // connections closed at once: MaxConns were being served
	TimedOut     uint64 // connections closed by the idle, read or write timeout
	Oversized    uint64 // connections closed on a declared length over MaxQuerySize
	Malformed    uint64 // connections closed on a message shorter than a DNS header
	MaxQueries   uint64 // connections closed after MaxQueries queries
	Queries      uint64 // messages read and handed on
	AcceptErrors uint64 // failed accepts (each followed by a back-off)
}

// TCPServer serves a dns.Handler over DNS's TCP framing (RFC 1035
// §4.2.2, RFC 7766) with everything a client can make it hold bounded:
// connections, the time each may wait and the size of what it sends. It
// replaces dns.Server for TCP, which allocates any declared length, has
// no cap on connections and spins when accept fails with EMFILE.
//
// Queries on one connection are answered in order, one at a time;
// pipelined queries wait in the socket's buffer.
type TCPServer struct {
	ln  net.Listener
	h   dns.Handler
	cfg TCPConfig

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	done   chan struct{} // closed by Close: ends a back-off

	accepted, refused, timedOut, oversized, malformed, maxQueries, queries, acceptErrs atomic.Uint64
}

// NewTCPServer returns a server for h on ln; it does not start serving.
func NewTCPServer(ln net.Listener, h dns.Handler, cfg TCPConfig) *TCPServer {
	cfg.setDefaults()
	return &TCPServer{ln: ln, h: h, cfg: cfg, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
}

// Addr is the listener's address.
func (s *TCPServer) Addr() net.Addr { return s.ln.Addr() }

// Stats returns the counters.
func (s *TCPServer) Stats() TCPStats {
	s.mu.Lock()
	active := len(s.conns)
	s.mu.Unlock()
	return TCPStats{
		Active:   uint64(active),
		Accepted: s.accepted.Load(), Refused: s.refused.Load(), TimedOut: s.timedOut.Load(),
		Oversized: s.oversized.Load(), Malformed: s.malformed.Load(), MaxQueries: s.maxQueries.Load(),
		Queries: s.queries.Load(), AcceptErrors: s.acceptErrs.Load(),
	}
}

// Serve accepts connections until Close; it then returns nil. A failed
// accept (EMFILE, ENFILE, ECONNABORTED, or anything else: a box in a
// closet must not stop answering) is retried after a back-off that
// doubles from 5 ms to 1 s, so that the loop never spins.
func (s *TCPServer) Serve() error {
	pause := backoff.Backoff{Min: minAcceptBackoff, Max: maxAcceptBackoff}
	failing := false
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.acceptErrs.Add(1)
			if !failing {
				s.cfg.Logger.Warn("dns tcp: accept", "err", err)
				failing = true
			}
			if !pause.Wait(s.done) {
				return nil
			}
			continue
		}
		if failing {
			s.cfg.Logger.Info("dns tcp: accepting again", "failed_accepts", s.acceptErrs.Load())
			failing = false
			pause.Reset()
		}
		s.start(c)
	}
}

// start serves c, or closes it at once when the server is at its cap.
func (s *TCPServer) start(c net.Conn) {
	s.mu.Lock()
	if s.closed || len(s.conns) >= s.cfg.MaxConns {
		closed := s.closed
		s.mu.Unlock()
		if !closed {
			s.refused.Add(1)
		}
		abort(c)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.forget(c)
		s.serveConn(c)
	}()
}

func (s *TCPServer) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *TCPServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection and waits until their
// goroutines have returned.
func (s *TCPServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// abort closes c with a reset (SO_LINGER 0): nothing it sent is read,
// and the box keeps no TIME_WAIT state for a client it turned away.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// serveConn reads length-prefixed queries from c and answers each until
// the client closes it or breaks a bound; then it closes c.
func (s *TCPServer) serveConn(c net.Conn) {
	graceful := false
	defer func() {
		if graceful {
			c.Close()
		} else {
			abort(c)
		}
	}()
	// The largest query plus its length: the only buffer a connection
	// has, whatever length the client declares.
	buf := make([]byte, 2+s.cfg.MaxQuerySize)
	w := &tcpWriter{c: c, timeout: s.cfg.WriteTimeout}
	for n := 0; ; n++ {
		if n == s.cfg.MaxQueries {
			s.maxQueries.Add(1)
			graceful = true
			return
		}
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			graceful = s.readEnded(err, true)
			return
		}
		size := int(binary.BigEndian.Uint16(buf))
		switch {
		case size > s.cfg.MaxQuerySize:
			s.oversized.Add(1)
			return
		case size < headerSize:
			s.malformed.Add(1)
			return
		}
		c.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		if _, err := io.ReadFull(c, buf[2:2+size]); err != nil {
			s.readEnded(err, false)
			return
		}
		s.queries.Add(1)
		s.handle(w, buf[2:2+size])
		if w.err != nil {
			if isTimeout(w.err) {
				s.timedOut.Add(1)
			}
			return
		}
	}
}

// readEnded counts why a read failed; it reports whether the client
// closed the connection cleanly between messages.
func (s *TCPServer) readEnded(err error, between bool) bool {
	if isTimeout(err) {
		s.timedOut.Add(1)
		return false
	}
	return between && errors.Is(err, io.EOF)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// headerSize is the length of a DNS header (RFC 1035 §4.1.1).
const headerSize = 12

// handle answers one message as dns.Server does over UDP (so both
// transports agree): dns.DefaultMsgAcceptFunc decides from the header
// whether to ignore it (a response), reject it with FORMERR or NOTIMP,
// or pass it to the handler; a message that does not unpack gets
// FORMERR. msg is at least headerSize bytes.
func (s *TCPServer) handle(w *tcpWriter, msg []byte) {
	dh := dns.Header{
		Id:      binary.BigEndian.Uint16(msg[0:]),
		Bits:    binary.BigEndian.Uint16(msg[2:]),
		Qdcount: binary.BigEndian.Uint16(msg[4:]),
		Ancount: binary.BigEndian.Uint16(msg[6:]),
		Nscount: binary.BigEndian.Uint16(msg[8:]),
		Arcount: binary.BigEndian.Uint16(msg[10:]),
	}
	action := dns.DefaultMsgAcceptFunc(dh)
	req := new(dns.Msg)
	if action == dns.MsgAccept {
		if err := req.Unpack(msg); err == nil {
			s.h.ServeDNS(w, req)
			return
		}
		action = dns.MsgReject
	}
	if action == dns.MsgIgnore {
		return
	}
	m := new(dns.Msg)
	m.Id = dh.Id
	m.SetRcodeFormatError(m)
	if action == dns.MsgRejectNotImplemented {
		m.Opcode = int(dh.Bits>>11) & 0xF
		m.Rcode = dns.RcodeNotImplemented
	}
	w.WriteMsg(m)
}

// tcpWriter is the dns.ResponseWriter of one TCP connection: each reply
// goes out with its length, in one write, under the write timeout. After
// a failed write it writes nothing more (err is set).
type tcpWriter struct {
	c       net.Conn
	timeout time.Duration
	err     error
}

func (w *tcpWriter) LocalAddr() net.Addr  { return w.c.LocalAddr() }
func (w *tcpWriter) RemoteAddr() net.Addr { return w.c.RemoteAddr() }

func (w *tcpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Write sends one whole DNS message b.
func (w *tcpWriter) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(b) > dns.MaxMsgSize {
		return 0, dns.ErrBuf
	}
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	w.c.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.c.Write(out); err != nil {
		w.err = err
		return 0, err
	}
	return len(b), nil
}

// Close ends the connection: the next read fails and serveConn returns.
func (w *tcpWriter) Close() error {
	if w.err == nil {
		w.err = net.ErrClosed
	}
	return w.c.Close()
}

func (w *tcpWriter) TsigStatus() error   { return nil }
func (w *tcpWriter) TsigTimersOnly(bool) {}
func (w *tcpWriter) Hijack()             {}
