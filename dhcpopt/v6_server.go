package dhcpopt

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/ntpbox/ntpbox/internal/backoff"
)

// Server6 runs a Handler6 on a packet connection.
type Server6 struct {
	h    *Handler6
	conn net.PacketConn
	log  *slog.Logger
}

// NewServer6 returns a server answering on conn: a socket from [Listen6]
// on the box, [::1]:0 in tests. log nil means slog.Default(). It does not
// start serving.
func NewServer6(conn net.PacketConn, h *Handler6, log *slog.Logger) *Server6 {
	if log == nil {
		log = slog.Default()
	}
	return &Server6{h: h, conn: conn, log: log}
}

// LocalAddr is the address the server answers on.
func (s *Server6) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// Close closes the connection; Serve then returns.
func (s *Server6) Close() error { return s.conn.Close() }

// Serve answers requests until the connection is closed; it returns nil
// then.
//
// Only a client on the link is answered: one whose source is a link-local
// address (RFC 8415 §13.1: clients send from one, and the box never sends
// the Server Unicast option), or loopback. Anything else is counted as
// ignored, so the box sends no DHCPv6 to an address a spoofed request
// names.
func (s *Server6) Serve() error {
	buf := make([]byte, 65536)
	var pause backoff.Backoff
	for {
		n, peer, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// A failed read (ENOMEM, say) is waited out: neither a
			// tight loop nor the end of DHCPv6.
			d := pause.Next()
			s.log.Warn("dhcp6: read", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		up, ok := peer.(*net.UDPAddr)
		if !ok || !(up.IP.IsLinkLocalUnicast() || up.IP.IsLoopback()) {
			s.h.countIgnored()
			s.log.Debug("dhcp6: dropped", "peer", peer, "err", "not from a link-local address")
			continue
		}
		resp, err := s.h.Handle(buf[:n])
		if err != nil {
			s.log.Debug("dhcp6: dropped", "peer", peer, "err", err)
			continue
		}
		if _, err := s.conn.WriteTo(resp, peer); err != nil {
			s.log.Warn("dhcp6: reply", "to", peer, "err", err)
		}
	}
}
