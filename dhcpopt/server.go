package dhcpopt

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Ports of RFC 2131 §4.1.
const (
	ServerPort = 67
	ClientPort = 68
)

// ServerConfig holds what the UDP wrapper needs besides the handler.
type ServerConfig struct {
	// LeaseFile, when set, receives the leases after every change.
	LeaseFile string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Server runs a Handler on a packet connection.
type Server struct {
	h     *Handler
	cfg   ServerConfig
	srv   *server4.Server
	conn  net.PacketConn
	mu    sync.Mutex // serialises lease file writes
	saved uint64
}

// Listen opens the socket a LAN server needs: UDP port 67 on all
// addresses, bound to the interface ifname, with SO_BROADCAST and
// SO_REUSEADDR set (server4.NewIPv4UDPConn).
func Listen(ifname string) (net.PacketConn, error) {
	c, err := server4.NewIPv4UDPConn(ifname, &net.UDPAddr{Port: ServerPort})
	if err != nil {
		return nil, fmt.Errorf("listen udp :%d on %s: %w", ServerPort, ifname, err)
	}
	return c, nil
}

// NewServer returns a server answering on conn: a socket from [Listen] on
// the box, 127.0.0.1:0 in tests. Replies to clients without an address are
// broadcast, so conn needs SO_BROADCAST. It does not start serving.
func NewServer(conn net.PacketConn, h *Handler, cfg ServerConfig) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{h: h, cfg: cfg, conn: conn, saved: h.Generation()}
	srv, err := server4.NewServer("", nil, s.serve, server4.WithConn(conn), server4.WithLogger(parseCounter{h}))
	if err != nil {
		return nil, fmt.Errorf("dhcp server: %w", err)
	}
	s.srv = srv
	return s, nil
}

// Serve answers requests until the connection is closed.
func (s *Server) Serve() error { return s.srv.Serve() }

// LocalAddr is the address the server answers on.
func (s *Server) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// Close closes the connection.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) serve(conn net.PacketConn, peer net.Addr, req *dhcpv4.DHCPv4) {
	resp, err := s.h.Handle(req, s.cfg.Now())
	if err != nil {
		s.cfg.Logger.Debug("dhcp: dropped", "peer", peer, "xid", req.TransactionID, "err", err)
	}
	for _, a := range s.h.TakeConflicts() {
		s.cfg.Logger.Warn("dhcp: address in use on the LAN, not offered", "addr", a, "client", req.ClientHWAddr.String())
	}
	s.persist()
	if resp == nil {
		return
	}
	up, _ := peer.(*net.UDPAddr)
	dst := Destination(req, resp, up)
	if _, err := conn.WriteTo(resp.ToBytes(), dst); err != nil {
		s.cfg.Logger.Warn("dhcp: reply", "to", dst, "err", err)
	}
}

func (s *Server) persist() {
	if s.cfg.LeaseFile == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := s.h.Generation()
	if gen == s.saved {
		return
	}
	if err := SaveLeases(s.cfg.LeaseFile, s.h.Leases()); err != nil {
		s.cfg.Logger.Error("dhcp: leases", "err", err)
		return
	}
	s.saved = gen
}

// Destination is where a reply goes (RFC 2131 §4.1): to the relay at
// giaddr; a NAK is broadcast; to ciaddr when the client has one; back to
// the sender when it came from a real address (a client that already has
// an address, or a test on loopback); else broadcast. Unicast to yiaddr of
// a client without an address would need a raw socket to skip ARP, and
// broadcast always works.
func Destination(req, resp *dhcpv4.DHCPv4, peer *net.UDPAddr) *net.UDPAddr {
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() {
		return &net.UDPAddr{IP: ip(gi), Port: ServerPort}
	}
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return bcast
	}
	var from = addrOf(peer)
	if ci := addr4(req.ClientIPAddr); ci.IsValid() {
		if from == ci {
			return peer
		}
		return &net.UDPAddr{IP: ip(ci), Port: ClientPort}
	}
	if from.IsValid() && !from.IsMulticast() && from != addr4(net.IPv4bcast) {
		return peer
	}
	return bcast
}

func addrOf(u *net.UDPAddr) (a netip.Addr) {
	if u == nil {
		return a
	}
	return addr4(u.IP)
}

// parseCounter is the server4 logger: it counts the packets server4 could
// not decode and otherwise stays quiet.
type parseCounter struct{ h *Handler }

func (p parseCounter) Printf(format string, v ...any) {
	if strings.HasPrefix(format, "Error parsing") {
		p.h.CountMalformed()
	}
}

func (p parseCounter) PrintMessage(string, *dhcpv4.DHCPv4) {}
