package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file has the appliance's network directives, which chrony does not
// have: address, gateway, nameserver and interface. On the appliance, init
// reads them from the config before it brings up the network; a line
// given on the kernel command line (ntpbox.address=...) replaces the
// file's lines of the same directive. `ntpbox serve` on an ordinary host
// ignores them: there the operating system configures the network.

// Network is the appliance's network setup from the config file.
type Network struct {
	// DHCP is `address dhcp`: ask a DHCP server for the address.
	DHCP bool
	// Addresses are the `address ADDR/LEN` lines, in file order.
	Addresses   []netip.Prefix
	Gateway     netip.Addr   // `gateway ADDR`; invalid when absent
	Nameservers []netip.Addr // `nameserver ADDR` lines
	Interface   string       // `interface NAME`; "" picks the first Ethernet interface
	// Pos is where each directive was last given, keyed by name.
	Pos map[string]Pos
}

// network handles
//
//	address dhcp | ADDR/LEN     (repeatable for several addresses)
//	gateway ADDR
//	nameserver ADDR             (repeatable)
//	interface NAME
//
// `address dhcp` and a static address exclude each other.
func (p *parser) network(l *line) error {
	arg, err := l.oneArg(map[string]string{
		"address":    "dhcp or ADDRESS/LENGTH",
		"gateway":    "an IP address",
		"nameserver": "an IP address",
		"interface":  "an interface name",
	}[l.name])
	if err != nil {
		return err
	}
	n := &p.cfg.Network
	if n.Pos == nil {
		n.Pos = map[string]Pos{}
	}
	switch l.name {
	case "address":
		if strings.EqualFold(arg, "dhcp") {
			if len(n.Addresses) > 0 {
				return fmt.Errorf("expected either dhcp or static addresses, got dhcp after %s (%s)", n.Addresses[0], n.Pos["address"])
			}
			n.DHCP = true
			break
		}
		if n.DHCP {
			return fmt.Errorf("expected either dhcp or static addresses, got %s after dhcp (%s)", arg, n.Pos["address"])
		}
		pfx, err := netip.ParsePrefix(arg)
		if err != nil || pfx.Addr().Zone() != "" || pfx.Addr().IsUnspecified() || pfx.Addr().IsMulticast() || pfx.Addr().IsLoopback() {
			return fmt.Errorf("expected dhcp or ADDRESS/LENGTH of a unicast address, got %q", arg)
		}
		for _, q := range n.Addresses {
			if q.Addr() == pfx.Addr() {
				return fmt.Errorf("expected each address once, got %s again", pfx.Addr())
			}
		}
		n.Addresses = append(n.Addresses, pfx)
	case "gateway", "nameserver":
		a, err := netip.ParseAddr(arg)
		if err != nil || a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("expected a unicast IP address, got %q", arg)
		}
		if l.name == "gateway" {
			n.Gateway = a.Unmap()
		} else {
			n.Nameservers = append(n.Nameservers, a.Unmap())
		}
	case "interface":
		if len(arg) > 15 || strings.ContainsAny(arg, "/ \t") {
			return fmt.Errorf("expected an interface name of at most 15 characters without / or spaces, got %q", arg)
		}
		n.Interface = arg
	}
	n.Pos[l.name] = l.pos
	return nil
}
