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
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Server answers chronyc on the command port: Respond for each request
// from an allowed host, on any number of packet connections.
type Server struct {
	p      Provider
	access atomic.Pointer[accessTable]
	log    *slog.Logger
	hits   atomic.Uint64 // requests from allowed hosts (chrony's cmd_hits)
}

// Access decides which hosts may use the command port besides localhost:
// the cmdallow/cmddeny table (an *ntpserver.Access built from
// config.Config.CmdAccess and the connected subnets).
type Access interface {
	Allowed(netip.Addr) bool
}

type accessTable struct{ Access }

// NewServer returns a server answering from p. 127.0.0.1 and ::1 are
// always allowed, as in chronyd; others as access says (nil: none).
func NewServer(p Provider, access Access, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{p: p, log: log}
	s.SetAccess(access)
	return s
}

// SetAccess replaces the access table (the connected subnets changed, or
// a reload changed cmdallow/cmddeny).
func (s *Server) SetAccess(a Access) { s.access.Store(&accessTable{a}) }

var (
	localhost4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	localhost6 = netip.IPv6Loopback()
)

// Allowed reports whether addr may use the command port: localhost
// (exactly 127.0.0.1 or ::1, as chronyd), or allowed by the table.
func (s *Server) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	if addr == localhost4 || addr == localhost6 {
		return true
	}
	a := s.access.Load().Access
	return a != nil && a.Allowed(addr)
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
// A panic in the provider is logged and the request dropped. On a
// *net.UDPConn each reply leaves from the address its request came to,
// as chronyd's do, so that a box with several addresses on one link
// answers chronyc (whose socket is connected to the address it asked)
// from the right one.
func (s *Server) Serve(conn net.PacketConn) error {
	rw := packetIO(conn)
	var in [MaxRequestLen + 1]byte // one more: a longer request is dropped
	var out [MaxReplyLen]byte
	var pause backoff.Backoff
	for {
		n, from, dst, err := rw.read(in[:])
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
			if err := rw.write(out[:m], from, dst); err != nil {
				s.log.Debug("cmdmon write", "to", from, "err", err)
			}
		}
	}
}

// packetRW reads datagrams with the address they were sent to, and
// writes replies from it.
type packetRW struct {
	read  func(b []byte) (n int, from net.Addr, dst dest, err error)
	write func(b []byte, to net.Addr, src dest) error
}

// dest is where a request came: the address, and the interface (which
// a reply from an IPv6 link-local address must leave by).
type dest struct {
	ip      net.IP
	ifIndex int
}

// packetIO is conn's packetRW: with IP_PKTINFO/IPV6_RECVPKTINFO on a
// UDP socket, else plain ReadFrom and WriteTo.
func packetIO(conn net.PacketConn) packetRW {
	plain := packetRW{
		read: func(b []byte) (int, net.Addr, dest, error) {
			n, from, err := conn.ReadFrom(b)
			return n, from, dest{}, err
		},
		write: func(b []byte, to net.Addr, _ dest) error { _, err := conn.WriteTo(b, to); return err },
	}
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return plain
	}
	if la, _ := uc.LocalAddr().(*net.UDPAddr); la != nil && la.IP.To4() != nil {
		p := ipv4.NewPacketConn(uc)
		if p.SetControlMessage(ipv4.FlagDst, true) != nil {
			return plain
		}
		return packetRW{
			read: func(b []byte) (int, net.Addr, dest, error) {
				n, cm, from, err := p.ReadFrom(b)
				if cm == nil {
					return n, from, dest{}, err
				}
				return n, from, dest{cm.Dst, cm.IfIndex}, err
			},
			write: func(b []byte, to net.Addr, src dest) error {
				var cm *ipv4.ControlMessage
				if src.ip != nil && !src.ip.IsMulticast() {
					cm = &ipv4.ControlMessage{Src: src.ip}
				}
				_, err := p.WriteTo(b, cm, to)
				return err
			},
		}
	}
	p := ipv6.NewPacketConn(uc)
	if p.SetControlMessage(ipv6.FlagDst, true) != nil {
		return plain
	}
	return packetRW{
		read: func(b []byte) (int, net.Addr, dest, error) {
			n, cm, from, err := p.ReadFrom(b)
			if cm == nil {
				return n, from, dest{}, err
			}
			return n, from, dest{cm.Dst, cm.IfIndex}, err
		},
		write: func(b []byte, to net.Addr, src dest) error {
			var cm *ipv6.ControlMessage
			if src.ip != nil && !src.ip.IsMulticast() {
				cm = &ipv6.ControlMessage{Src: src.ip}
				if src.ip.IsLinkLocalUnicast() {
					cm.IfIndex = src.ifIndex
				}
			}
			_, err := p.WriteTo(b, cm, to)
			return err
		},
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
