package cmdmon

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/ntpbox/ntpbox/config"
)

// ListenAddrs are the addresses of the command port for cfg, one IPv4
// and one IPv6, none when `cmdport 0`. For each family:
//
//   - the address of `bindcmdaddress`, if one is given;
//   - else, with a cmdallow rule, every address (0.0.0.0, ::), so that
//     the hosts it allows can reach the port;
//   - else 127.0.0.1 and ::1, chronyd's default.
//
// chronyd binds its loopback addresses until bindcmdaddress says
// otherwise, cmdallow or not; ntpbox takes a cmdallow line as the wish
// to be reached, which is what it is on a box without a shell.
func ListenAddrs(cfg *config.Config) []netip.AddrPort {
	port := uint16(cfg.CmdPort)
	if port == 0 {
		return nil
	}
	v4, v6 := localhost4, localhost6
	for _, r := range cfg.CmdAccess {
		if r.Allow {
			v4, v6 = netip.IPv4Unspecified(), netip.IPv6Unspecified()
			break
		}
	}
	if cfg.BindCmdIPv4.IsValid() {
		v4 = cfg.BindCmdIPv4
	}
	if cfg.BindCmdIPv6.IsValid() {
		v6 = cfg.BindCmdIPv6
	}
	return []netip.AddrPort{netip.AddrPortFrom(v4, port), netip.AddrPortFrom(v6, port)}
}

// Listen opens a UDP socket on each address. An address that cannot be
// bound (no IPv6, the port taken by a chronyd) is a warning, as chronyd
// logs "Could not open command socket" and runs on.
func Listen(addrs []netip.AddrPort) (conns []*net.UDPConn, warnings []error) {
	for _, ap := range addrs {
		network := "udp4"
		if ap.Addr().Is6() {
			network = "udp6"
		}
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
		if err != nil {
			warnings = append(warnings, fmt.Errorf("listen %s %s: %w", network, ap, err))
			continue
		}
		conns = append(conns, c)
	}
	return conns, warnings
}
