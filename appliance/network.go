package appliance

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
)

// NetOps is what init does to the network: the kernel's links, as
// netlink sees them, and a DHCP client. [LinuxNet] is the real one;
// tests use a fake.
type NetOps interface {
	// Loopback brings up lo.
	Loopback() error
	// WaitLink waits up to timeout for the named interface, or for the
	// first Ethernet interface (by name) when name is "", and brings
	// it up.
	WaitLink(name string, timeout time.Duration) (netstate.Link, error)
	// SetAddrs makes want the addresses of link (IPv6 link-local ones
	// are the kernel's and stay).
	SetAddrs(link string, want []netip.Prefix) error
	// SetGateway makes gw the default route of its family through link;
	// an invalid gw removes the IPv4 default route.
	SetGateway(link string, gw netip.Addr) error
	// Links follows the links' state (netstate.Watch).
	Links(ctx context.Context) <-chan netstate.State
	// DHCP starts a DHCP client on link that sends hostname (option 12)
	// and reports each lease change on events, until ctx ends. linkUp
	// receives when the link comes back up (the client then checks its
	// lease).
	DHCP(ctx context.Context, link netstate.Link, hostname string, linkUp <-chan struct{}, events chan<- LeaseEvent, log *slog.Logger) error
}

// linkWait bounds how long init waits for the Ethernet interface to
// appear once its driver is loaded.
const linkWait = 15 * time.Second

// hostnameFor is the name the box gives itself and sends to the DHCP
// server: the config's `hostname`, else ntpbox- and the MAC's last three
// octets.
func hostnameFor(configured string, mac net.HardwareAddr) string {
	if configured != "" {
		return configured
	}
	return config.DefaultHostname(mac)
}
