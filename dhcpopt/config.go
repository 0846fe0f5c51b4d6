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
	// ModeAuto is `dhcp auto`: a server for one range that leases only
	// while [Handler.SetAuto] says so ([DecideAuto]), with short leases
	// ([AutoLeaseTime]), only to clients that retried ([RetryAfter]), never
	// NAKing a client it has no record of, and that reports the other
	// servers clients name ([Handler.TakeSightings]). It starts answering
	// DHCPINFORM only.
	ModeAuto
)

func (m Mode) String() string {
	switch m {
	case ModeInform:
		return "inform"
	case ModeServer:
		return "server"
	case ModeAuto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultLease is the lease time in server mode when the configuration
// names none (dnsmasq's default).
const DefaultLease = time.Hour

// Timing of ModeAuto.
const (
	// AutoLeaseTime is the lease time in auto mode when the configuration
	// names none: with renewal (T1) at half of it, a client asks the box
	// again within a minute, and is NAKed then once another server was
	// seen; no client holds a lease of the box's longer than 2 minutes
	// after the box stopped answering.
	AutoLeaseTime = 2 * time.Minute
	// RetryAfter: in auto mode the box offers an address only to a client
	// that has been asking for this long: a DISCOVER at least RetryAfter
	// after the first one of its attempt, or one whose secs field says
	// so. Another server, dnsmasq included (which pings an address for 3 s
	// before its first offer), answers first, and the client's broadcast
	// DHCPREQUEST then names it. That server may answer only clients it
	// knows: the box never hears it otherwise.
	RetryAfter = 4 * time.Second
	// retryWindow: a DISCOVER more than this after the client's previous
	// one starts a new attempt.
	retryWindow = 30 * time.Second
)

// Config is the handler's configuration. Addresses are IPv4.
type Config struct {
	Mode Mode
	// ServerID is the box's address on the LAN: the server identifier
	// (option 54).
	ServerID netip.Addr
	// Subnet is the LAN's prefix, e.g. 198.18.0.0/24 (option 1).
	Subnet netip.Prefix
	// NTPServers are advertised in option 42.
	NTPServers []netip.Addr
	// DNSServers are advertised in option 6 when not empty.
	DNSServers []netip.Addr
	// Domain is advertised in option 15 when not empty.
	Domain string

	// ProbeHW is the chaddr of this box's own server probe
	// ([ProbeHWAddrFor] the interface's MAC), which the handler ignores;
	// nil means ProbeHWAddr.
	ProbeHW net.HardwareAddr

	// Router is advertised in option 3 when valid.
	Router netip.Addr

	// Server and auto mode only.
	RangeStart, RangeEnd netip.Addr
	Lease                time.Duration // 0 means DefaultLease, AutoLeaseTime in auto mode
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
	if c.Router.IsValid() && !c.Router.Is4() {
		return fmt.Errorf("dhcp: router %v is not IPv4", c.Router)
	}
	if c.Mode == ModeInform {
		return nil
	}
	if c.Mode != ModeServer && c.Mode != ModeAuto {
		return fmt.Errorf("dhcp: unknown mode %v", c.Mode)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() < 8 || c.Subnet.Bits() > 30 {
		return fmt.Errorf("dhcp %v: subnet %v must be an IPv4 prefix /8../30", c.Mode, c.Subnet)
	}
	if !c.Subnet.Contains(c.ServerID) {
		return fmt.Errorf("dhcp %v: server address %v outside subnet %v", c.Mode, c.ServerID, c.Subnet)
	}
	if !c.Subnet.Contains(c.RangeStart) || !c.Subnet.Contains(c.RangeEnd) {
		return fmt.Errorf("dhcp %v: range %v-%v outside subnet %v", c.Mode, c.RangeStart, c.RangeEnd, c.Subnet)
	}
	if c.RangeEnd.Less(c.RangeStart) {
		return fmt.Errorf("dhcp %v: range end %v before start %v", c.Mode, c.RangeEnd, c.RangeStart)
	}
	if c.Lease < 0 || (c.Lease != 0 && c.Lease < time.Minute) {
		return fmt.Errorf("dhcp %v: lease %v shorter than 1m", c.Mode, c.Lease)
	}
	if c.Router.IsValid() && !c.Subnet.Contains(c.Router) {
		return fmt.Errorf("dhcp %v: router %v outside subnet %v", c.Mode, c.Router, c.Subnet)
	}
	return nil
}

// InRange reports whether a lies in the server range.
func (c *Config) InRange(a netip.Addr) bool {
	return (c.Mode == ModeServer || c.Mode == ModeAuto) && a.Is4() && !a.Less(c.RangeStart) && !c.RangeEnd.Less(a)
}

func (c *Config) probeHW() net.HardwareAddr {
	if len(c.ProbeHW) == 0 {
		return ProbeHWAddr
	}
	return c.ProbeHW
}

func (c *Config) lease() time.Duration {
	switch {
	case c.Lease != 0:
		return c.Lease
	case c.Mode == ModeAuto:
		return AutoLeaseTime
	}
	return DefaultLease
}
