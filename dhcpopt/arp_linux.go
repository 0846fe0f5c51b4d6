package dhcpopt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
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
// host on an Ethernet must answer ARP). It is safe for concurrent use:
// probes of several addresses run at the same time on one socket.
type ARPProber struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	hw      net.HardwareAddr
	self    netip.Addr
	timeout time.Duration
	done    chan struct{} // closed when the reader returns

	mu      sync.Mutex
	waiters map[netip.Addr][]chan struct{} // probes in flight, by address
}

// NewARPProber opens an AF_PACKET socket for ARP bound to iface. self is
// the box's IPv4 address on iface, the sender of the requests; timeout is
// how long InUse waits for an answer ([ProbeTimeout] in production).
// It needs CAP_NET_RAW. Close releases the socket.
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
	// A non-blocking descriptor in an os.File waits in the runtime's
	// poller, and Close wakes the reader.
	f := os.NewFile(uintptr(fd), "arp:"+iface)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("arp prober: %w", err)
	}
	p := &ARPProber{f: f, rc: rc, ifindex: ifc.Index, hw: ifc.HardwareAddr, self: self, timeout: timeout,
		done: make(chan struct{}), waiters: map[netip.Addr][]chan struct{}{}}
	go p.read()
	return p, nil
}

// read receives ARP packets until the socket is closed and wakes the
// probes of the addresses they claim.
func (p *ARPProber) read() {
	defer close(p.done)
	buf := make([]byte, 128)
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := p.rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			if errors.Is(rerr, unix.EINTR) || errors.Is(rerr, unix.ENETDOWN) || errors.Is(rerr, unix.ENOBUFS) {
				continue
			}
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own requests, the box's own answers
		}
		pkt, err := parseARP(buf[:n])
		if err != nil {
			continue
		}
		p.mu.Lock()
		for _, ch := range p.waiters[pkt.SenderIP] {
			if pkt.claims(pkt.SenderIP) {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
		p.mu.Unlock()
	}
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
	select {
	case <-p.done:
		return false
	default:
	}
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	p.waiters[addr] = append(p.waiters[addr], ch)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		ws := p.waiters[addr]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(p.waiters, addr)
		} else {
			p.waiters[addr] = ws
		}
		p.mu.Unlock()
	}()

	req := whoHas(p.hw, p.self, addr).marshal()
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: p.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var serr error
	if err := p.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), req, 0, to)
		return !errors.Is(serr, unix.EAGAIN)
	}); err != nil || serr != nil {
		return false
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	case <-p.done:
		return false
	}
}

// Close closes the socket; probes in flight and later ones report false.
func (p *ARPProber) Close() error {
	err := p.f.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	<-p.done
	return err
}

// htons converts to network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
