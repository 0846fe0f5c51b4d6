package dhcpopt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ProbeTimeout is how long [ARPProber] waits for an answer in production:
// hosts on a LAN answer ARP within milliseconds, and ISC dhcpd waits a
// second for its ping.
const ProbeTimeout = 500 * time.Millisecond

// ARPProber is a [Prober] that asks the LAN by ARP whether an address is
// in use before the handler offers it (RFC 2131 §4.4.1 "SHOULD probe";
// ISC dhcpd pings, which a host with a firewall ignores, while every IPv4
// host on an Ethernet must answer ARP). It is safe for concurrent use;
// probes run one at a time.
type ARPProber struct {
	mu      sync.Mutex
	fd      int
	ifindex int
	hw      net.HardwareAddr
	self    netip.Addr
	timeout time.Duration
	closed  bool
}

// NewARPProber opens an AF_PACKET socket for ARP bound to iface. self is
// the box's IPv4 address on iface, the sender of the requests; timeout is
// how long InUse waits for an answer ([ProbeTimeout] in production).
// It needs CAP_NET_RAW.
func NewARPProber(iface string, self netip.Addr, timeout time.Duration) (*ARPProber, error) {
	if !self.Is4() {
		return nil, fmt.Errorf("arp prober: %v is not IPv4", self)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("arp prober: timeout %v", timeout)
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("arp prober: %w", err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("arp prober: %s has no Ethernet address", iface)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return nil, fmt.Errorf("arp prober: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("arp prober: bind %s: %w", iface, err)
	}
	return &ARPProber{fd: fd, ifindex: ifc.Index, hw: ifc.HardwareAddr, self: self, timeout: timeout}, nil
}

// InUse broadcasts "who has addr? tell self" and reports whether, within
// the timeout, a host answers for addr or sends any ARP packet from addr.
//
// A socket error (the interface went down, the prober was closed) makes
// InUse return false without logging: the caller has no better choice
// than offering the address anyway, as it does without a prober, and the
// client's own check (DHCPDECLINE, RFC 2131 §4.4.1) still protects the
// LAN. Errors that matter, a missing interface or no CAP_NET_RAW, are
// reported once by NewARPProber.
func (p *ARPProber) InUse(addr netip.Addr) bool {
	if !addr.Is4() || addr.IsUnspecified() || addr == p.self {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	buf := make([]byte, 128)
	// Forget what arrived since the last probe.
	for {
		if _, _, err := unix.Recvfrom(p.fd, buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	req := whoHas(p.hw, p.self, addr).marshal()
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: p.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(p.fd, req, 0, to); err != nil {
		return false
	}
	deadline := time.Now().Add(p.timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int((left+time.Millisecond-1)/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false
		}
		if n == 0 {
			continue
		}
		for {
			m, from, err := unix.Recvfrom(p.fd, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				break
			}
			if err != nil {
				return false
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue // our own request, or the box's own answers
			}
			if pkt, err := parseARP(buf[:m]); err == nil && pkt.claims(addr) {
				return true
			}
		}
	}
}

// Close closes the socket; InUse then reports false. It waits for a
// probe in progress.
func (p *ARPProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return unix.Close(p.fd)
}

// htons converts to network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
