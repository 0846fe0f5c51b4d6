package ntpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ListenAddrs returns the addresses chrony would serve on: each
// bindaddress at port, or the IPv4 and IPv6 wildcard addresses when there
// is none.
func ListenAddrs(bind []netip.Addr, port int) []netip.AddrPort {
	if len(bind) == 0 {
		bind = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	}
	out := make([]netip.AddrPort, 0, len(bind))
	for _, a := range bind {
		out = append(out, netip.AddrPortFrom(a, uint16(port)))
	}
	return out
}

// Listen opens perAddr UDP sockets on each address, sharing it with
// SO_REUSEPORT so the kernel spreads clients over them (one serving loop
// per core scales across cores). IPv6 sockets are IPv6-only, so an IPv4
// and an IPv6 wildcard can coexist. A wildcard IPv6 address on a host
// without IPv6 is skipped and reported in the returned warnings.
func Listen(ctx context.Context, addrs []netip.AddrPort, perAddr int) (conns []*net.UDPConn, warnings []error, err error) {
	if perAddr < 1 {
		perAddr = 1
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(setReusePort(fd), enableRxInfo(fd, network == "udp6"))
		})
		return errors.Join(err, serr)
	}}
	for _, ap := range addrs {
		network := "udp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "udp6"
		}
		for i := 0; i < perAddr; i++ {
			pc, lerr := lc.ListenPacket(ctx, network, ap.String())
			if lerr != nil {
				if network == "udp6" && ap.Addr().IsUnspecified() && i == 0 && noIPv6(lerr) {
					warnings = append(warnings, fmt.Errorf("listen %s %s: %w (IPv6 not served)", network, ap, lerr))
					break
				}
				for _, c := range conns {
					c.Close()
				}
				return nil, warnings, fmt.Errorf("listen %s %s: %w", network, ap, lerr)
			}
			conns = append(conns, pc.(*net.UDPConn))
		}
	}
	return conns, warnings, nil
}
