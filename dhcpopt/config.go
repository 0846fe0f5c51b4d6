package dhcpopt

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Mode selects what the handler answers.
type Mode int

const (
	// ModeInform answers DHCPINFORM only; another server leases addresses.
	ModeInform Mode = iota
	// ModeServer is a full DHCPv4 server for one range.
	ModeServer
)

func (m Mode) String() string {
	switch m {
	case ModeInform:
		return "inform"
	case ModeServer:
		return "server"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultLease is the lease time when the configuration names none
// (dnsmasq's default).
const DefaultLease = time.Hour

// Config is the handler's configuration. Addresses are IPv4.
type Config struct {
	Mode Mode
	// ServerID is the box's address on the LAN: the server identifier
	// (option 54) and the DNS server handed out (option 6).
	ServerID netip.Addr
	// Subnet is the LAN's prefix, e.g. 198.18.0.0/24 (option 1).
	Subnet netip.Prefix
	// NTPServers are advertised in option 42.
	NTPServers []netip.Addr
	// DNSServers are advertised in option 6; none means ServerID in server
	// mode and nothing in inform mode.
	DNSServers []netip.Addr
	// Domain is advertised in option 15 when not empty.
	Domain string

	// ProbeHW is the chaddr of this box's own server probe
	// ([ProbeHWAddrFor] the interface's MAC), which the handler ignores;
	// nil means ProbeHWAddr.
	ProbeHW net.HardwareAddr

	// Server mode only.
	RangeStart, RangeEnd netip.Addr
	Lease                time.Duration // 0 means DefaultLease
	Router               netip.Addr    // option 3 when valid
}

// Validate checks the configuration and reports the first problem.
func (c *Config) Validate() error {
	if !c.ServerID.Is4() {
		return fmt.Errorf("dhcp: server address %v is not IPv4", c.ServerID)
	}
	if len(c.NTPServers) == 0 {
		return errors.New("dhcp: no NTP servers to advertise")
	}
	for _, a := range append(append([]netip.Addr{}, c.NTPServers...), c.DNSServers...) {
		if !a.Is4() {
			return fmt.Errorf("dhcp: %v is not IPv4 (options 6 and 42 carry IPv4 only)", a)
		}
	}
	if strings.ContainsAny(c.Domain, " \x00") {
		return fmt.Errorf("dhcp: bad domain %q", c.Domain)
	}
	if c.Mode == ModeInform {
		return nil
	}
	if c.Mode != ModeServer {
		return fmt.Errorf("dhcp: unknown mode %v", c.Mode)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() < 8 || c.Subnet.Bits() > 30 {
		return fmt.Errorf("dhcp server: subnet %v must be an IPv4 prefix /8../30", c.Subnet)
	}
	if !c.Subnet.Contains(c.ServerID) {
		return fmt.Errorf("dhcp server: server address %v outside subnet %v", c.ServerID, c.Subnet)
	}
	if !c.Subnet.Contains(c.RangeStart) || !c.Subnet.Contains(c.RangeEnd) {
		return fmt.Errorf("dhcp server: range %v-%v outside subnet %v", c.RangeStart, c.RangeEnd, c.Subnet)
	}
	if c.RangeEnd.Less(c.RangeStart) {
		return fmt.Errorf("dhcp server: range end %v before start %v", c.RangeEnd, c.RangeStart)
	}
	if c.Lease < 0 || (c.Lease != 0 && c.Lease < time.Minute) {
		return fmt.Errorf("dhcp server: lease %v shorter than 1m", c.Lease)
	}
	if c.Router.IsValid() && !c.Subnet.Contains(c.Router) {
		return fmt.Errorf("dhcp server: router %v outside subnet %v", c.Router, c.Subnet)
	}
	return nil
}

// InRange reports whether a lies in the server range.
func (c *Config) InRange(a netip.Addr) bool {
	return c.Mode == ModeServer && a.Is4() && !a.Less(c.RangeStart) && !c.RangeEnd.Less(a)
}

func (c *Config) probeHW() net.HardwareAddr {
	if len(c.ProbeHW) == 0 {
		return ProbeHWAddr
	}
	return c.ProbeHW
}

func (c *Config) lease() time.Duration {
	if c.Lease == 0 {
		return DefaultLease
	}
	return c.Lease
}
