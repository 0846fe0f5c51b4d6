package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/dhcpopt"
)

// This file has ntpbox's own directives for discovery, which chrony does
// not have: advertise, dhcp and dns.

// DHCPMode is the mode of the `dhcp` directive.
type DHCPMode int

const (
	DHCPOff    DHCPMode = iota // no DHCP service (the default)
	DHCPInform                 // answer DHCPINFORM with option 42 only
	DHCPServer                 // lease addresses from a range
	DHCPAuto                   // decided by the appliance; treated as off by `ntpbox serve`
)

func (m DHCPMode) String() string {
	switch m {
	case DHCPOff:
		return "off"
	case DHCPInform:
		return "inform"
	case DHCPServer:
		return "server"
	case DHCPAuto:
		return "auto"
	}
	return fmt.Sprintf("DHCPMode(%d)", int(m))
}

// DHCP is the `dhcp` directive.
type DHCP struct {
	Origin Origin
	Mode   DHCPMode
	// Server mode only: the IPv4 range, lease time (0: dhcpopt.DefaultLease)
	// and router (option 3, when valid).
	RangeStart, RangeEnd netip.Addr
	Lease                time.Duration
	Router               netip.Addr
	DNS                  []netip.Addr // `dns ADDR[,ADDR...]`: option 6; none means the box's address
	// LeaseFile is `leasefile PATH` (server mode), "" when not given; see
	// Config.DHCPLeaseFile for the effective path.
	LeaseFile string
}

// DHCPLeaseFile is where the server mode (and auto, when it leases)
// keeps its leases: `leasefile
// PATH`, else dhcp.leases beside the driftfile, else "" (leases kept in
// memory only).
func (c *Config) DHCPLeaseFile() string {
	switch {
	case c.DHCP == nil || c.DHCP.Mode != DHCPServer && c.DHCP.Mode != DHCPAuto:
		return ""
	case c.DHCP.LeaseFile != "":
		return c.DHCP.LeaseFile
	case c.DriftFile != "":
		return filepath.Join(filepath.Dir(c.DriftFile), "dhcp.leases")
	}
	return ""
}

// advertise handles `advertise ADDR...`: the NTP servers announced by DHCP
// and DNS. Repeated lines add to the list; each address may appear once.
func (p *parser) advertise(l *line) error {
	if len(l.args) == 0 {
		return fmt.Errorf("expected one or more IP addresses, got nothing")
	}
	for _, s := range l.args {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("expected a unicast IP address without zone, got %q", s)
		}
		a = a.Unmap()
		for _, b := range p.cfg.Advertise {
			if a == b {
				return fmt.Errorf("expected each address once, got %s again", a)
			}
		}
		p.cfg.Advertise = append(p.cfg.Advertise, a)
	}
	return nil
}

// dhcp handles
//
//	dhcp off | auto
//	dhcp inform
//	dhcp server RANGE_START RANGE_END [lease DURATION] [router ADDR] [dns ADDR[,ADDR...]] [leasefile PATH]
//
// A later line replaces an earlier one.
func (p *parser) dhcp(l *line) error {
	if len(l.args) == 0 {
		return fmt.Errorf("expected off, inform, server or auto, got nothing")
	}
	d := &DHCP{Origin: l.origin}
	switch mode := asciiLower(l.args[0]); mode {
	case "off", "auto":
		if len(l.args) > 1 {
			return fmt.Errorf("expected nothing after %s, got %q", mode, l.args[1])
		}
		d.Mode = DHCPOff
		if mode == "auto" {
			d.Mode = DHCPAuto
		}
	case "inform", "server":
		args := append([]string{mode}, l.args[1:]...)
		for i := 1; i < len(args); i++ {
			if asciiLower(args[i]) != "leasefile" {
				continue
			}
			if mode != "server" {
				return fmt.Errorf("expected leasefile only with server, got it with %s", mode)
			}
			if i+1 >= len(args) || !filepath.IsAbs(args[i+1]) {
				return fmt.Errorf("expected an absolute path after leasefile")
			}
			d.LeaseFile = args[i+1]
			args = append(args[:i:i], args[i+2:]...)
			break
		}
		var c dhcpopt.Config
		if err := c.ParseMode(args); err != nil {
			msg := strings.TrimPrefix(err.Error(), "dhcp: ")
			return fmt.Errorf("expected inform or server RANGE_START RANGE_END [lease DURATION] [router ADDR] [dns ADDR[,ADDR...]] [leasefile PATH]: %s", strings.TrimPrefix(msg, "dhcp "))
		}
		if c.Mode == dhcpopt.ModeServer {
			if err := checkRange(c); err != nil {
				return err
			}
			d.Mode, d.RangeStart, d.RangeEnd, d.Lease, d.Router, d.DNS = DHCPServer, c.RangeStart, c.RangeEnd, c.Lease, c.Router, c.DNSServers
		} else {
			d.Mode = DHCPInform
		}
	default:
		return fmt.Errorf("expected off, inform, server or auto, got %q", l.args[0])
	}
	p.cfg.DHCP = d
	return nil
}

// checkRange checks what can be checked without knowing the box's subnet,
// which is known only when the daemon starts.
func checkRange(c dhcpopt.Config) error {
	if !c.RangeStart.Is4() || !c.RangeEnd.Is4() {
		return fmt.Errorf("expected an IPv4 range, got %s-%s", c.RangeStart, c.RangeEnd)
	}
	if c.RangeEnd.Less(c.RangeStart) {
		return fmt.Errorf("expected the range end %s not before its start %s", c.RangeEnd, c.RangeStart)
	}
	if c.Lease != 0 && c.Lease < time.Minute {
		return fmt.Errorf("expected a lease of at least 1m, got %v", c.Lease)
	}
	if c.Router.IsValid() && !c.Router.Is4() {
		return fmt.Errorf("expected an IPv4 router, got %s", c.Router)
	}
	for _, a := range c.DNSServers {
		if !a.Is4() {
			return fmt.Errorf("expected IPv4 dns addresses, got %s", a)
		}
	}
	return nil
}

// dnsDirective handles `dns zone NAME`: serve the _ntp._udp SRV records of
// the advertised servers for zone NAME on port 53.
func (p *parser) dnsDirective(l *line) error {
	if len(l.args) == 0 || asciiLower(l.args[0]) != "zone" {
		got := "nothing"
		if len(l.args) > 0 {
			got = fmt.Sprintf("%q", l.args[0])
		}
		return fmt.Errorf("expected zone NAME, got %s", got)
	}
	if len(l.args) != 2 {
		return fmt.Errorf("expected zone NAME, got %d arguments after zone", len(l.args)-1)
	}
	name, ok := domainName(l.args[1])
	if !ok {
		return fmt.Errorf("expected a domain name of ASCII letters, digits, - and _, got %q", l.args[1])
	}
	p.cfg.DNSZone = name
	return nil
}

func anyIPv4(as []netip.Addr) bool {
	for _, a := range as {
		if a.Is4() {
			return true
		}
	}
	return false
}

// domainName checks a domain name of the dns and dhcp6 directives and
// returns it lower case without its final dot: ASCII letters, digits,
// '-' and '_' in labels of at most 63 characters, as a DNS zone or an
// NTP server's name needs, and nothing that lower-casing could change
// into something else.
func domainName(s string) (string, bool) {
	name := strings.TrimSuffix(s, ".")
	if !looksLikeHostname(name) { // which also bounds it to 253 characters, as DNS does
		return "", false
	}
	return asciiLower(name), true
}
