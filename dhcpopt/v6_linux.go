package dhcpopt

import (
	"fmt"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"golang.org/x/sys/unix"
)

// Listen6 opens the socket of the DHCPv6 service: UDP [::]:547, IPv6
// only, bound to the interface ifname, a member of ff02::1:2
// (All_DHCP_Relay_Agents_and_Servers) on it.
func Listen6(ifname string) (*net.UDPConn, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcp6: %w", err)
	}
	c, err := server6.NewIPv6UDPConn(ifname, &net.UDPAddr{IP: net.IPv6unspecified, Port: ServerPort6})
	if err != nil {
		return nil, fmt.Errorf("listen udp [::]:%d on %s: %w", ServerPort6, ifname, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dhcp6: %w", err)
	}
	mreq := &unix.IPv6Mreq{Multiaddr: AllDHCPRelayAgentsAndServers.As16(), Interface: uint32(ifc.Index)}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
	}); err == nil {
		err = serr
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dhcp6: join %v on %s: %w", AllDHCPRelayAgentsAndServers, ifname, err)
	}
	return c, nil
}
