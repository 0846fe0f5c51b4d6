package ntpserver

import (
	"net/netip"
	"slices"

	"github.com/ntpbox/ntpbox/config"
)

// Access is the NTP access table built from allow/deny directives, with
// chrony's meaning:
//
//   - with no rule, nobody is served;
//   - `allow`/`deny` with no address cover every IPv4 and IPv6 address;
//   - each rule sets the verdict for its subnet; a later rule for the same
//     subnet replaces an earlier one;
//   - the `all` form also removes every earlier, more specific rule inside
//     its subnet, so `deny 10.1.0.0/16` then `allow all 10.0.0.0/8`
//     allows 10.1.2.3;
//   - a client is judged by the most specific subnet that contains it.
//
// IPv4-mapped IPv6 clients (::ffff:a.b.c.d) are judged as IPv4. An Access
// is immutable and safe for concurrent use.
type Access struct {
	rules []accessRule // most specific first
}

type accessRule struct {
	prefix netip.Prefix
	allow  bool
}

var (
	allV4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	allV6 = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
)

// NewAccess builds the table from rules in file order. A rule for the
// connected subnets (`allow connected`) stands for each of connected, the
// subnets the box is on now; the table is rebuilt when they change.
func NewAccess(rules []config.AccessRule, connected []netip.Prefix) *Access {
	var table []accessRule
	set := func(p netip.Prefix, allow, all bool) {
		p = p.Masked()
		if all {
			table = slices.DeleteFunc(table, func(r accessRule) bool {
				return r.prefix.Bits() > p.Bits() && p.Contains(r.prefix.Addr())
			})
		}
		for i := range table {
			if table[i].prefix == p {
				table[i].allow = allow
				return
			}
		}
		table = append(table, accessRule{p, allow})
	}
	for _, r := range rules {
		if r.Connected {
			for _, p := range connected {
				set(p, r.Allow, r.All)
			}
			continue
		}
		if r.Any {
			set(allV4, r.Allow, r.All)
			set(allV6, r.Allow, r.All)
			continue
		}
		p := r.Prefix
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		set(p, r.Allow, r.All)
	}
	slices.SortStableFunc(table, func(a, b accessRule) int { return b.prefix.Bits() - a.prefix.Bits() })
	return &Access{rules: table}
}

// Allowed reports whether addr may be served.
func (a *Access) Allowed(addr netip.Addr) bool {
	if a == nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for i := range a.rules {
		if a.rules[i].prefix.Contains(addr) {
			return a.rules[i].allow
		}
	}
	return false
}

// Empty reports whether the table has no rules, so it serves nobody.
func (a *Access) Empty() bool { return a == nil || len(a.rules) == 0 }
