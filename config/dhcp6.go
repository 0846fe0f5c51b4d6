package config

import (
	"fmt"
)

// DHCP6 is the `dhcp6` directive: stateless DHCPv6 (RFC 8415 §6.1) with
// the NTP Server option 56 (RFC 5908).
type DHCP6 struct {
	Origin Origin
	Inform bool // `dhcp6 inform`: answer Information-Request; false for `dhcp6 off`
	// Names are the NTP server names (`name FQDN`, lower case, no final
	// dot) sent as NTP_SUBOPTION_SRV_FQDN after the addresses.
	Names []string
}

// dhcp6 handles
//
//	dhcp6 off
//	dhcp6 inform [name FQDN]...
//
// A later line replaces an earlier one.
func (p *parser) dhcp6(l *line) error {
	if len(l.args) == 0 {
		return fmt.Errorf("expected off or inform, got nothing")
	}
	d := &DHCP6{Origin: l.origin}
	switch mode := asciiLower(l.args[0]); mode {
	case "off":
		if len(l.args) > 1 {
			return fmt.Errorf("expected nothing after off, got %q", l.args[1])
		}
	case "inform":
		d.Inform = true
		rest := l.args[1:]
		for len(rest) > 0 {
			if asciiLower(rest[0]) != "name" {
				return fmt.Errorf("expected name FQDN after inform, got %q", rest[0])
			}
			if len(rest) < 2 {
				return fmt.Errorf("expected a domain name after name, got nothing")
			}
			name, ok := domainName(rest[1])
			if !ok {
				return fmt.Errorf("expected a domain name after name, got %q", rest[1])
			}
			for _, n := range d.Names {
				if n == name {
					return fmt.Errorf("expected each name once, got %s again", name)
				}
			}
			d.Names = append(d.Names, name)
			rest = rest[2:]
		}
	default:
		return fmt.Errorf("expected off or inform, got %q", l.args[0])
	}
	p.cfg.DHCP6 = d
	return nil
}
