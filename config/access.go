package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// access handles `allow` and `deny`, and `cmdallow` and `cmddeny` with
// the same syntax for the command port (chronyc):
//
//	allow                   every address, IPv4 and IPv6
//	allow 1.2.3.4           one address (/32 or /128)
//	allow 3.4.5.0/24        a subnet (host bits are masked off)
//	allow 3.4.5             chrony's short IPv4 form: 1, 2 or 3 numbers = /8, /16, /24
//	allow 10/8              the short form with a length
//	allow all [subnet]      the same, overriding earlier rules inside the subnet
//	allow connected         the subnets of the box's interfaces, whatever they
//	                        are when a request comes (ntpbox's own; chrony has none)
//
// Host names, which chrony resolves when it starts, are refused: parsing
// does no DNS.
func (p *parser) access(l *line) error {
	cmd := strings.HasPrefix(l.name, "cmd")
	rule := AccessRule{Origin: l.origin, Allow: l.name == "allow" || l.name == "cmdallow"}
	args := l.args
	if len(args) > 0 && asciiLower(args[0]) == "all" {
		rule.All = true
		args = args[1:]
	}
	if len(args) > 1 {
		return fmt.Errorf("expected at most one address or subnet, got extra argument %q", args[1])
	}
	switch {
	case len(args) == 0:
		rule.Any = true
	case asciiLower(args[0]) == "connected":
		if rule.All {
			return fmt.Errorf("expected connected without all, got all connected")
		}
		rule.Connected = true
	default:
		prefix, err := parseSubnet(args[0])
		if err != nil {
			return err
		}
		rule.Prefix = prefix
	}
	if cmd {
		p.cfg.CmdAccess = append(p.cfg.CmdAccess, rule)
	} else {
		p.cfg.Access = append(p.cfg.Access, rule)
	}
	return nil
}

// parseSubnet parses the subnet argument of allow/deny.
func parseSubnet(s string) (netip.Prefix, error) {
	bad := func(why string) error {
		msg := fmt.Sprintf(`expected an address, a subnet or "all", got %q`, s)
		if why != "" {
			msg += " (" + why + ")"
		}
		return fmt.Errorf("%s", msg)
	}
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	bits := -1
	if hasBits {
		if bitsPart == "" || strings.Trim(bitsPart, "0123456789") != "" || len(bitsPart) > 3 {
			return netip.Prefix{}, bad("the prefix length must be a number")
		}
		bits, _ = strconv.Atoi(bitsPart)
	}

	addr, err := netip.ParseAddr(addrPart)
	if err == nil {
		if addr.Zone() != "" {
			return netip.Prefix{}, bad("an address with a zone cannot be a subnet")
		}
		if bits < 0 {
			bits = addr.BitLen()
		}
		if bits > addr.BitLen() {
			return netip.Prefix{}, bad(fmt.Sprintf("the prefix length must be 0..%d", addr.BitLen()))
		}
		return netip.PrefixFrom(addr, bits).Masked(), nil
	}

	if addr, n, ok := parseShortIPv4(addrPart); ok {
		if bits < 0 {
			bits = n * 8
		}
		if bits > 32 {
			return netip.Prefix{}, bad("the prefix length must be 0..32")
		}
		return netip.PrefixFrom(addr, bits).Masked(), nil
	}

	if !hasBits && looksLikeHostname(addrPart) {
		return netip.Prefix{}, bad("host names are not resolved by ntpbox")
	}
	return netip.Prefix{}, bad("")
}

// parseShortIPv4 parses chrony's shortened IPv4 network notation: one, two
// or three decimal numbers 0..255 separated by dots ("10", "192.168",
// "3.4.5"), the missing trailing numbers being zero. n is how many numbers
// were given.
func parseShortIPv4(s string) (addr netip.Addr, n int, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return netip.Addr{}, 0, false
	}
	var b [4]byte
	for i, part := range parts {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return netip.Addr{}, 0, false
		}
		v, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return netip.Addr{}, 0, false
		}
		b[i] = byte(v)
	}
	return netip.AddrFrom4(b), len(parts), true
}
