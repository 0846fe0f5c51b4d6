package cmdmon

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/ntpserver"
)

// Server answers chronyc on the command port: Respond for each request
// from an allowed host, on any number of packet connections.
type Server struct {
	p      Provider
	access atomic.Pointer[ntpserver.Access]
	log    *slog.Logger
	hits   atomic.Uint64 // requests from allowed hosts (chrony's cmd_hits)
}

// NewServer returns a server answering from p. access is the
// cmdallow/cmddeny table; 127.0.0.1 and ::1 are always allowed, as in
// chronyd, and nil allows only them.
func NewServer(p Provider, access *ntpserver.Access, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{p: p, log: log}
	s.access.Store(access)
	return s
}

// SetAccess replaces the access table (the connected subnets changed, or
// a reload changed cmdallow/cmddeny).
func (s *Server) SetAccess(a *ntpserver.Access) { s.access.Store(a) }

var (
	localhost4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	localhost6 = netip.IPv6Loopback()
)

// Allowed reports whether addr may use the command port: localhost
// (exactly 127.0.0.1 or ::1, as chronyd), or allowed by the table.
func (s *Server) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	return addr == localhost4 || addr == localhost6 || s.access.Load().Allowed(addr)
}

// ServerStats is the provider's, with the command port's counters.
func (s *Server) ServerStats() control.ServerStats {
	st := s.p.ServerStats()
	st.CmdHits += s.hits.Load()
	return st
}

// counted is the provider Respond sees: the daemon's, whose server
// statistics include this server's counters.
type counted struct {
	Provider
	s *Server
}

func (c counted) ServerStats() control.ServerStats { return c.s.ServerStats() }

// Handle answers one datagram from addr into out (MaxReplyLen bytes):
// the reply's length, 0 for none. A host that is not allowed gets no
// reply at all, as from chronyd.
func (s *Server) Handle(req []byte, from netip.Addr, out []byte) int {
	if !s.Allowed(from) {
		return 0
	}
	if _, v := DecodeRequest(req); v != Drop {
		s.hits.Add(1)
	}
	return Respond(req, out, counted{s.p, s})
}

// Serve answers requests on conn until it is closed, then returns nil.
// A panic in the provider is logged and the request dropped.
func (s *Server) Serve(conn net.PacketConn) error {
	var in [MaxRequestLen + 1]byte // one more: a longer request is dropped
	var out [MaxReplyLen]byte
	var pause backoff.Backoff
	for {
		n, from, err := conn.ReadFrom(in[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			d := pause.Next()
			s.log.Warn("cmdmon read failed", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		if m := s.safeHandle(in[:n], ua.AddrPort().Addr(), out[:]); m > 0 {
			if _, err := conn.WriteTo(out[:m], from); err != nil {
				s.log.Debug("cmdmon write", "to", from, "err", err)
			}
		}
	}
}

func (s *Server) safeHandle(req []byte, from netip.Addr, out []byte) (n int) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("cmdmon request", "from", from, "panic", v)
			n = 0
		}
	}()
	return s.Handle(req, from, out)
}
