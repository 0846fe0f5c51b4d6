package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file has the appliance's network directives, which chrony does not
// have: address, gateway, nameserver, interface and hostname. On the
// appliance, init applies them before it brings up the network; on an
// ordinary host `ntpbox serve` ignores them: there the operating system
// configures the network.
//
// Unlike the chrony directives, a later layer replaces these instead of
// adding to them (see Merge): an `address` on the kernel command line
// replaces the file's address, gateway and nameserver lines, which belong
// to the old address (or a box moved from a static address to DHCP would
// keep a gateway and resolvers of the old LAN); a `gateway` or
// `nameserver` alone replaces its own kind; `interface` and `hostname`
// are single values.

// Network is the appliance's network setup.
type Network struct {
	// DHCP is `address dhcp`: ask a DHCP server for the address.
	DHCP bool
	// Addresses are the `address ADDR/LEN` lines, in order.
	Addresses   []netip.Prefix
	Gateway     netip.Addr   // `gateway ADDR`; invalid when absent
	Nameservers []netip.Addr // `nameserver ADDR` lines
	Interface   string       // `interface NAME`; "" picks the first Ethernet interface
	// Hostname is `hostname NAME`: the name the box gives itself and
	// sends to the DHCP server (option 12), so that it shows in the
	// router's lease table. "" means ntpbox- and the MAC's last three
	// octets (see DefaultHostname).
	Hostname string
}

// addressing is what a later layer's `address` replaces.
var addressing = []string{"address", "gateway", "nameserver"}

// network handles
//
//	address dhcp | ADDR/LEN     (repeatable for several addresses)
//	gateway ADDR
//	nameserver ADDR             (repeatable)
//	interface NAME
//	hostname NAME
//
// `address dhcp` and a static address exclude each other.
func (p *parser) network(l *line) error {
	arg, err := l.oneArg(map[string]string{
		"address":    "dhcp or ADDRESS/LENGTH",
		"gateway":    "an IP address",
		"nameserver": "an IP address",
		"interface":  "an interface name",
		"hostname":   "a host name",
	}[l.name])
	if err != nil {
		return err
	}
	n := &p.cfg.Network
	// The first line of a directive in a new layer replaces what the
	// earlier layers set; a new address, their whole addressing.
	replace := []string{l.name}
	if l.name == "address" {
		replace = addressing
	}
	for _, d := range replace {
		if seq, ok := p.netLayer[d]; !ok || seq == p.layerSeq {
			continue
		}
		switch d {
		case "address":
			n.DHCP, n.Addresses = false, nil
		case "gateway":
			n.Gateway = netip.Addr{}
		case "nameserver":
			n.Nameservers = nil
		}
		p.cfg.dropOrigins(d)
		delete(p.netLayer, d)
	}
	p.netLayer[l.name] = p.layerSeq
	switch l.name {
	case "address":
		if strings.EqualFold(arg, "dhcp") {
			if len(n.Addresses) > 0 {
				return fmt.Errorf("expected either dhcp or static addresses, got dhcp after %s (%s)", n.Addresses[0], p.cfg.Origins["address"])
			}
			n.DHCP = true
			break
		}
		if n.DHCP {
			return fmt.Errorf("expected either dhcp or static addresses, got %s after dhcp (%s)", arg, p.cfg.Origins["address"])
		}
		pfx, err := netip.ParsePrefix(arg)
		if err != nil || pfx.Addr().Zone() != "" || pfx.Addr().IsUnspecified() || pfx.Addr().IsMulticast() || pfx.Addr().IsLoopback() {
			return fmt.Errorf("expected dhcp or ADDRESS/LENGTH of a unicast address, got %q", arg)
		}
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits())
		for _, q := range n.Addresses {
			if q.Addr() == pfx.Addr() {
				return fmt.Errorf("expected each address once, got %s again", pfx.Addr())
			}
		}
		n.Addresses = append(n.Addresses, pfx)
		p.cfg.setOrigin("address "+pfx.String(), l.origin)
	case "gateway", "nameserver":
		a, err := netip.ParseAddr(arg)
		if err != nil || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return fmt.Errorf("expected a unicast IP address, got %q", arg)
		}
		a = a.Unmap()
		if l.name == "gateway" {
			n.Gateway = a
			break
		}
		for _, b := range n.Nameservers {
			if a == b {
				return fmt.Errorf("expected each address once, got %s again", a)
			}
		}
		n.Nameservers = append(n.Nameservers, a)
		p.cfg.setOrigin("nameserver "+a.String(), l.origin)
	case "interface":
		if len(arg) > 15 || strings.ContainsAny(arg, "/ \t") {
			return fmt.Errorf("expected an interface name of at most 15 characters without / or spaces, got %q", arg)
		}
		n.Interface = arg
	case "hostname":
		if !validHostname(arg) {
			return fmt.Errorf("expected a host name of letters, digits and hyphens (RFC 1123, at most 63 characters a label), got %q", arg)
		}
		n.Hostname = asciiLower(arg)
	}
	return nil
}

// validHostname reports whether s is a host name RFC 1123 allows: labels
// of letters, digits and hyphens, not starting or ending with a hyphen,
// at most 63 characters each and 253 in all.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// DefaultHostname is the name of a box without a `hostname` line:
// "ntpbox-" and the last three octets of its MAC address, in hex, so that
// two boxes on one LAN have different names in the router's lease table.
func DefaultHostname(mac []byte) string {
	if len(mac) < 3 {
		return "ntpbox"
	}
	m := mac[len(mac)-3:]
	return fmt.Sprintf("ntpbox-%02x%02x%02x", m[0], m[1], m[2])
}

// dropOrigins forgets the origins of a directive and of its values.
func (c *Config) dropOrigins(directive string) {
	for k := range c.Origins {
		if k == directive || strings.HasPrefix(k, directive+" ") {
			delete(c.Origins, k)
		}
	}
}
