package ntpserver

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Options configure a Server.
type Options struct {
	// Access decides who is served. Nil serves nobody, as chrony does
	// without an allow directive.
	Access *Access
	// Clients logs clients and applies the rate limit; nil logs nothing
	// and limits nothing (chrony's noclientlog).
	Clients *ClientLog
	// State is the initial sync state; the zero value is replaced by
	// Unsynchronised.
	State *SyncState
	// Now reads the clock for transmit timestamps, and for receive
	// timestamps where the kernel gives none. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server answers NTP client requests on any number of packet
// connections. Its policy is Respond; what it adds is access control, the
// client log, kernel receive timestamps and batched I/O.
type Server struct {
	access  atomic.Pointer[Access]
	state   atomic.Pointer[SyncState]
	clients *ClientLog
	xleave  *xleaveTable
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	workers []*counters
}

// counters are one serving loop's statistics; each loop owns one so the
// hot path never shares a cache line.
type counters struct {
	received atomic.Uint64
	byDrop   [numDrops]atomic.Uint64
	_        [64]byte
}

// NewServer returns a server; call Serve for each connection.
func NewServer(o Options) *Server {
	s := &Server{clients: o.Clients, now: o.Now, log: o.Logger, xleave: newXleaveTable()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.access.Store(o.Access)
	st := Unsynchronised(-20)
	if o.State != nil {
		st = *o.State
	}
	s.state.Store(&st)
	return s
}

// SetState replaces the state served from the next reply on.
func (s *Server) SetState(st SyncState) { s.state.Store(&st) }

// State returns the state being served.
func (s *Server) State() SyncState { return *s.state.Load() }

// SetAccess replaces the access table.
func (s *Server) SetAccess(a *Access) { s.access.Store(a) }

// Clients returns the client log (nil when clients are not logged).
func (s *Server) Clients() *ClientLog { return s.clients }

// Stats are the server's counters since it started.
type Stats struct {
	Received uint64
	Answered uint64
	Dropped  map[string]uint64 // by reason
	// From the client log (0 without one): requests answered with a
	// RATE kiss-o'-death (counted in Answered too), and client records
	// evicted to make room.
	Kissed, Evicted uint64
	// Interleaved mode (0 without it): requests answered in it, the
	// transmit times held for the next ones, and the seconds between
	// the oldest and newest of those.
	Interleaved, Timestamps, TimestampSpan uint64
}

// Stats sums the counters of every serving loop.
func (s *Server) Stats() Stats {
	st := Stats{Dropped: map[string]uint64{}}
	if s.clients != nil {
		st.Kissed, st.Evicted = s.clients.Kissed(), s.clients.Evicted()
	}
	if s.xleave != nil {
		n, span := s.xleave.held()
		st.Interleaved, st.Timestamps, st.TimestampSpan = s.xleave.hits.Load(), uint64(n), span
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.workers {
		st.Received += c.received.Load()
		st.Answered += c.byDrop[DropNone].Load()
		for d := DropNone + 1; d < numDrops; d++ {
			if v := c.byDrop[d].Load(); v > 0 {
				st.Dropped[d.String()] += v
			}
		}
	}
	return st
}

func (s *Server) newCounters() *counters {
	c := new(counters)
	s.mu.Lock()
	s.workers = append(s.workers, c)
	s.mu.Unlock()
	return c
}

// Serve answers requests arriving on conn until conn is closed, then
// returns nil. On Linux a *net.UDPConn is served with batched
// recvmmsg/sendmmsg and kernel receive timestamps; any other connection
// with one ReadFrom/WriteTo per packet.
func (s *Server) Serve(conn net.PacketConn) error {
	c := s.newCounters()
	if u, ok := conn.(*net.UDPConn); ok {
		if err, handled := s.serveBatched(u, c); handled {
			return err
		}
	}
	return s.serveSimple(conn, c)
}

// handle applies policy to one request from src received at rx (Unix ns)
// and writes the reply into out. It returns the reply length or 0.
func (s *Server) handle(out, req []byte, src netip.AddrPort, rxNs int64, st *SyncState, acc *Access) (n int, d Drop, x xleaveReply) {
	if d := Classify(req); d != DropNone {
		return 0, d, x
	}
	a := src.Addr()
	if src.Port() == 0 || a.IsUnspecified() || a.IsMulticast() || a.Unmap() == ipv4Bcast {
		return 0, DropBadSource, x
	}
	if !acc.Allowed(a) {
		return 0, DropDenied, x
	}
	var kiss uint32
	if s.clients != nil {
		switch s.clients.Request(a, rxNs) {
		case Limit:
			return 0, DropRateLimited, x
		case Kiss:
			kiss = kissRATE
		}
	}
	served := st.Cook(rxNs)
	// The lowest bit of a receive timestamp is 1 and that of a transmit
	// timestamp 0 (see xleave.go); a quarter of a nanosecond.
	rx := wire.UnixNanoToNTP(served/1e9, served%1e9) | 1
	n = fill(out, req, rx, st, kiss)
	if kiss != 0 || s.xleave == nil {
		return n, DropNone, x
	}
	if origin, ok := interleavedRequest(req); ok {
		x.save = rx
		if tx, ok := s.xleave.take(origin); ok {
			// Interleaved: the transmit time of the previous reply, and
			// as origin the client's receive time of it.
			copy(out[wire.OffOrigin:wire.OffOrigin+8], req[wire.OffReceive:wire.OffReceive+8])
			wire.PutTransmit(out, tx)
			x.interleaved = true
		}
	}
	return n, DropNone, x
}

// xleaveReply is what the serving loop does for interleaved mode after
// handle: record the transmit time of the reply (save is its receive
// timestamp, 0 for none), and keep the transmit timestamp handle wrote
// (interleaved).
type xleaveReply struct {
	save        wire.Time64
	interleaved bool
}

// txStamp is the transmit timestamp of a reply sent now: cooked, lowest
// bit 0.
func txStamp(st *SyncState, now time.Time) wire.Time64 {
	return wire.TimeToNTP(st.CookTime(now)) &^ 1
}

var kissRATE = wire.KissCode("RATE")

// serveSimple is the portable loop: one packet per system call.
func (s *Server) serveSimple(conn net.PacketConn, c *counters) error {
	buf := make([]byte, wire.MaxPacketLen+1)
	out := make([]byte, wire.HeaderLen)
	var pause backoff.Backoff
	for {
		n, addr, err := conn.ReadFrom(buf)
		rxNs := s.now().UnixNano()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Anything else (ENOMEM, say) is waited out, not served
			// in a tight loop, nor the end of the service.
			d := pause.Next()
			s.log.Warn("receive failed", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		c.received.Add(1)
		src := addrPortOf(addr)
		m, d, x := s.handle(out, buf[:n], src, rxNs, s.state.Load(), s.access.Load())
		c.byDrop[d].Add(1)
		if m == 0 {
			continue
		}
		tx := txStamp(s.state.Load(), s.now())
		if !x.interleaved {
			wire.PutTransmit(out, tx)
		}
		if _, err := conn.WriteTo(out[:m], addr); err != nil {
			s.log.Debug("send reply", "to", addr, "err", err)
			continue
		}
		if x.save != 0 {
			s.xleave.put(x.save, tx)
		}
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	default:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap
	}
}

var ipv4Bcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
