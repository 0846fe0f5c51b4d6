package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// This file has ntpbox's own directives for discovery, which chrony does
// not have: advertise, dhcp and dns.

// DHCPMode is the mode of the `dhcp` directive.
type DHCPMode int

const (
	DHCPOff    DHCPMode = iota // no DHCP service (the default)
	DHCPInform                 // answer DHCPINFORM with option 42 only
	DHCPServer                 // lease addresses from a range
	DHCPAuto                   // inform, or lease while no other DHCP server is seen (`ntpbox serve` decides)
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
	// Server mode only: the IPv4 range, lease time (0: the DHCP server's
	// default, 1h) and router (option 3, when valid; invalid: the box's
	// own gateway).
	RangeStart, RangeEnd netip.Addr
	Lease                time.Duration
	Router               netip.Addr
	DNS                  []netip.Addr // `dns ADDR[,ADDR...]`: option 6; none means the box's own nameservers
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

// DHCPServerRecordFile is where `dhcp auto` keeps its record of other
// DHCP servers: dhcp.servers beside the lease file; "" when there is none.
func (c *Config) DHCPServerRecordFile() string {
	if lf := c.DHCPLeaseFile(); lf != "" {
		return filepath.Join(filepath.Dir(lf), "dhcp.servers")
	}
	return ""
}

// StateFiles are the files that service ("ntp", "dhcp" or "dns") keeps
// across restarts with this config: the drift file; the lease file and
// the record of other DHCP servers. On the appliance, init writes them
// for the service and refuses any other path (package persist's Serve).
func (c *Config) StateFiles(service string) []string {
	var files []string
	add := func(f string) {
		if f != "" {
			files = append(files, f)
		}
	}
	switch service {
	case "ntp":
		add(c.DriftFile)
	case "dhcp":
		add(c.DHCPLeaseFile())
		if c.DHCP != nil && c.DHCP.Mode == DHCPAuto {
			add(c.DHCPServerRecordFile())
		}
	}
	return files
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
		if err := parseDHCPMode(d, args); err != nil {
			return fmt.Errorf("expected inform or server RANGE_START RANGE_END [lease DURATION] [router ADDR] [dns ADDR[,ADDR...]] [leasefile PATH]: %s", err)
		}
		if d.Mode == DHCPServer {
			if err := checkRange(d); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("expected off, inform, server or auto, got %q", l.args[0])
	}
	p.cfg.DHCP = d
	return nil
}

// parseDHCPMode fills d's mode, range, lease, router and DNS servers from
// the words after `dhcp` (leasefile taken out), mode first:
//
//	inform
//	server RANGE_START RANGE_END [lease DURATION] [router ADDR] [dns ADDR[,ADDR...]]
//
// A repeated option replaces the earlier value.
func parseDHCPMode(d *DHCP, args []string) error {
	if args[0] == "inform" {
		if len(args) != 1 {
			return fmt.Errorf("inform: unexpected argument %q", args[1])
		}
		d.Mode = DHCPInform
		return nil
	}
	if len(args) < 3 {
		return errors.New("server: want RANGE_START RANGE_END")
	}
	start, err := netip.ParseAddr(args[1])
	if err != nil {
		return fmt.Errorf("server: range start: %w", err)
	}
	end, err := netip.ParseAddr(args[2])
	if err != nil {
		return fmt.Errorf("server: range end: %w", err)
	}
	d.Mode, d.RangeStart, d.RangeEnd = DHCPServer, start, end
	for rest := args[3:]; len(rest) > 0; rest = rest[2:] {
		if len(rest) < 2 {
			return fmt.Errorf("server: %q needs a value", rest[0])
		}
		switch rest[0] {
		case "lease":
			if d.Lease, err = time.ParseDuration(rest[1]); err != nil {
				return fmt.Errorf("server: lease: %w", err)
			}
		case "router":
			if d.Router, err = netip.ParseAddr(rest[1]); err != nil {
				return fmt.Errorf("server: router: %w", err)
			}
		case "dns":
			d.DNS = d.DNS[:0]
			for _, s := range strings.Split(rest[1], ",") {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return fmt.Errorf("server: dns: %w", err)
				}
				d.DNS = append(d.DNS, a)
			}
		default:
			return fmt.Errorf("server: unknown option %q (want lease, router or dns)", rest[0])
		}
	}
	return nil
}

// checkRange checks what can be checked without knowing the box's subnet,
// which is known only when the daemon starts.
func checkRange(d *DHCP) error {
	if !d.RangeStart.Is4() || !d.RangeEnd.Is4() {
		return fmt.Errorf("expected an IPv4 range, got %s-%s", d.RangeStart, d.RangeEnd)
	}
	if d.RangeEnd.Less(d.RangeStart) {
		return fmt.Errorf("expected the range end %s not before its start %s", d.RangeEnd, d.RangeStart)
	}
	if d.Lease != 0 && d.Lease < time.Minute {
		return fmt.Errorf("expected a lease of at least 1m, got %v", d.Lease)
	}
	if d.Router.IsValid() && !d.Router.Is4() {
		return fmt.Errorf("expected an IPv4 router, got %s", d.Router)
	}
	for _, a := range d.DNS {
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
	// One final dot (the root) may be written; "a.." has an empty label.
	name := strings.TrimSuffix(s, ".")
	if strings.HasSuffix(name, ".") || !looksLikeHostname(name) { // which also bounds it to 253 characters, as DNS does
		return "", false
	}
	return asciiLower(name), true
}
