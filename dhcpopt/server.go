package dhcpopt

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/ntpbox/ntpbox/internal/backoff"
)

// Ports of RFC 2131 §4.1.
const (
	ServerPort = 67
	ClientPort = 68
)

// ServerConfig holds what the UDP wrapper needs besides the handler.
type ServerConfig struct {
	// LeaseFile, when set, receives the leases after every change,
	// coalesced: at most one write (and fsync) per CommitInterval. A
	// DHCPACK that binds a lease is sent only once the lease is in the
	// file (RFC 2131 §4.3.2), so no acknowledged lease is lost in a
	// power cut.
	LeaseFile string
	// CommitInterval is the shortest time between two lease-file
	// writes; default 1 s.
	CommitInterval time.Duration
	// Workers handle requests; default 16 (a DISCOVER may wait half a
	// second for the ARP check of an address). Queue is how many
	// received requests of each kind may wait for a worker; default 256.
	// DISCOVERs wait in their own queue, which a worker takes from only
	// when no other message waits: a flood of DISCOVERs does not starve
	// the REQUESTs, RELEASEs and INFORMs of clients. When a queue is full
	// a request is dropped (Stats().Dropped): the client retries.
	Workers, Queue int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// ServerStats counts what the UDP wrapper did, beside the handler's
// Stats.
type ServerStats struct {
	Received uint64 // requests received that decode
	Dropped  uint64 // requests dropped because every worker was busy and the queue full
	OffLink  uint64 // replies not sent: their destination was off the LAN
	Writes   uint64 // lease-file writes
	WriteErr uint64 // lease-file writes that failed
}

// Server runs a Handler on a packet connection: one reader, a fixed pool
// of workers, and one committer that writes the lease file (issue 11: a
// flood of random clients costs bounded memory, goroutines and disk
// writes).
type Server struct {
	h    *Handler
	cfg  ServerConfig
	conn net.PacketConn

	queue  chan received // DISCOVERs
	prio   chan received // everything else
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex // the committer's state
	saved   uint64     // the handler generation in the file
	pending []pendingReply
	kick    chan struct{}

	received, dropped, offLink, writes, writeErr atomic.Uint64
}

type received struct {
	req  *dhcpv4.DHCPv4
	peer net.Addr
}

// pendingReply is a DHCPACK waiting for its lease to reach the file.
type pendingReply struct {
	gen  uint64
	data []byte
	dst  *net.UDPAddr
}

// maxPacket is the largest request read; a DHCP message fits an
// Ethernet frame.
const maxPacket = 1500

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
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	return &Server{h: h, cfg: cfg, conn: conn, saved: h.Generation(),
		queue: make(chan received, cfg.Queue), prio: make(chan received, cfg.Queue),
		closed: make(chan struct{}), kick: make(chan struct{}, 1)}, nil
}

// Serve answers requests until the connection is closed; it then writes
// the leases a last time and returns nil.
func (s *Server) Serve() error {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(s.work)
	}
	var cwg sync.WaitGroup
	cwg.Go(s.commit)
	err := s.read()
	s.once.Do(func() { close(s.closed) })
	wg.Wait()
	cwg.Wait()
	return err
}

// read receives requests and queues them for the workers, dropping them
// when the queue is full. A temporary error backs off (5 ms doubling to
// 1 s) instead of spinning; the connection's closing ends it.
func (s *Server) read() error {
	buf := make([]byte, maxPacket)
	var pause backoff.Backoff
	for {
		n, peer, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.cfg.Logger.Warn("dhcp: read", "err", err)
			if !pause.Wait(s.closed) {
				return nil
			}
			continue
		}
		pause.Reset()
		req, err := dhcpv4.FromBytes(buf[:n]) // copies what it keeps
		if err != nil {
			s.h.CountMalformed()
			continue
		}
		s.received.Add(1)
		q := s.prio
		if req.MessageType() == dhcpv4.MessageTypeDiscover {
			q = s.queue
		}
		select {
		case q <- received{req: req, peer: peer}:
		default:
			s.dropped.Add(1)
		}
	}
}

// work handles requests until the server closes: any other message
// before a DISCOVER.
func (s *Server) work() {
	for {
		var r received
		select {
		case r = <-s.prio:
		default:
			select {
			case r = <-s.prio:
			case r = <-s.queue:
			case <-s.closed:
				return
			}
		}
		s.serve(r.peer, r.req)
	}
}

func (s *Server) serve(peer net.Addr, req *dhcpv4.DHCPv4) {
	if up, _ := peer.(*net.UDPAddr); !s.fromLAN(up, req) {
		// A spoofed source off the LAN: it binds nothing and gets nothing.
		s.offLink.Add(1)
		return
	}
	resp, err := s.h.Handle(req, s.cfg.Now())
	if err != nil {
		s.cfg.Logger.Debug("dhcp: dropped", "peer", peer, "xid", req.TransactionID, "err", err)
	}
	for _, a := range s.h.TakeConflicts() {
		s.cfg.Logger.Warn("dhcp: address in use on the LAN, not offered", "addr", a, "client", req.ClientHWAddr.String())
	}
	gen := s.h.Generation()
	dirty := s.cfg.LeaseFile != "" && gen != s.savedGen()
	if dirty {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	if resp == nil {
		return
	}
	up, _ := peer.(*net.UDPAddr)
	dst := Destination(req, resp, up)
	if !s.onLink(dst) {
		s.offLink.Add(1)
		s.cfg.Logger.Debug("dhcp: no reply off the LAN", "to", dst, "xid", req.TransactionID)
		return
	}
	data := resp.ToBytes()
	if dirty && resp.MessageType() == dhcpv4.MessageTypeAck {
		// The ACK binds a lease: it waits for the lease file.
		s.mu.Lock()
		if gen > s.saved {
			s.pending = append(s.pending, pendingReply{gen: gen, data: data, dst: dst})
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.send(data, dst)
}

func (s *Server) send(data []byte, dst *net.UDPAddr) {
	if _, err := s.conn.WriteTo(data, dst); err != nil && !errors.Is(err, net.ErrClosed) {
		s.cfg.Logger.Warn("dhcp: reply", "to", dst, "err", err)
	}
}

// onLink reports whether a reply may go to dst: broadcast, loopback (tests
// and the box itself), or an address in the LAN's subnet. A request
// whose source is off the LAN gets no unicast answer: the box would
// otherwise send datagrams to any address a spoofed request names.
func (s *Server) onLink(dst *net.UDPAddr) bool {
	a := addr4(dst.IP)
	sub := s.h.cfg.Subnet
	return !sub.IsValid() || a == addr4(net.IPv4bcast) || a.IsLoopback() || sub.Contains(a)
}

// fromLAN reports whether a request may be handled: its source is
// 0.0.0.0 (a client without an address), loopback, or in the LAN's
// subnet; or it was relayed (the handler checks giaddr).
func (s *Server) fromLAN(peer *net.UDPAddr, req *dhcpv4.DHCPv4) bool {
	sub := s.h.cfg.Subnet
	if !sub.IsValid() || peer == nil || addr4(req.GatewayIPAddr).IsValid() {
		return true
	}
	a := addr4(peer.IP)
	return !a.IsValid() || a.IsLoopback() || sub.Contains(a)
}

func (s *Server) savedGen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved
}

// commit writes the lease file when the leases changed, at most once per
// CommitInterval (the last one, at Close, too), and then sends the ACKs
// that waited for it. A write
// that fails is logged, and the ACKs are sent all the same: the lease
// holds in memory, and a box whose disk is full keeps serving its LAN.
func (s *Server) commit() {
	if s.cfg.LeaseFile == "" {
		return
	}
	var last time.Time
	for {
		final := false
		select {
		case <-s.kick:
		case <-s.closed:
			final = true
		}
		// The last write, when the server closes, keeps the interval
		// too (at most CommitInterval later than it could).
		if wait := s.cfg.CommitInterval - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.closed:
				final = true
				time.Sleep(s.cfg.CommitInterval - time.Since(last))
			}
		}
		gen := s.h.Generation() // before the snapshot: the file then holds at least gen
		if gen != s.savedGen() {
			err := SaveLeases(s.cfg.LeaseFile, s.h.Leases())
			last = time.Now()
			s.writes.Add(1)
			if err != nil {
				s.writeErr.Add(1)
				s.cfg.Logger.Error("dhcp: leases not saved; acknowledging from memory", "err", err)
			}
			s.mu.Lock()
			s.saved = gen
			var ready []pendingReply
			keep := s.pending[:0]
			for _, p := range s.pending {
				if p.gen <= gen {
					ready = append(ready, p)
				} else {
					keep = append(keep, p)
				}
			}
			s.pending = keep
			s.mu.Unlock()
			if !final {
				for _, p := range ready {
					s.send(p.data, p.dst)
				}
			}
		}
		if final {
			return
		}
	}
}

// Stats returns the wrapper's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Received: s.received.Load(), Dropped: s.dropped.Load(), OffLink: s.offLink.Load(), Writes: s.writes.Load(), WriteErr: s.writeErr.Load()}
}

// LocalAddr is the address the server answers on.
func (s *Server) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// Close closes the connection; Serve then returns.
func (s *Server) Close() error { return s.conn.Close() }

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
