package ntpserver

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

func accessFrom(t *testing.T, lines ...string) *Access {
	t.Helper()
	cfg, _, err := config.ParseBytes("acl.conf", []byte(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return NewAccess(cfg.Access, nil)
}

func TestAccess(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   []string
		allowed []string
		denied  []string
	}{
		{"no rules serve nobody", nil, nil, []string{"198.18.0.1", "::1", "127.0.0.1"}},
		{"plain allow serves everyone", []string{"allow"}, []string{"198.18.0.1", "2001:db8::1", "::ffff:198.18.0.1"}, nil},
		{"allow all serves everyone", []string{"allow all"}, []string{"198.18.0.1", "fe80::1"}, nil},
		{"seed's subnet", []string{"allow 10.0.0.0/8"}, []string{"10.10.0.1", "10.255.255.255"}, []string{"11.0.0.1", "198.18.0.1", "::1"}},
		{"most specific wins", []string{"allow 198.18.0.0/15", "deny 198.18.5.0/24", "allow 198.18.5.7"},
			[]string{"198.18.0.1", "198.19.1.1", "198.18.5.7"}, []string{"198.18.5.6", "198.20.0.1"}},
		{"order does not matter for different subnets", []string{"deny 198.18.5.0/24", "allow 198.18.0.0/15"},
			[]string{"198.18.0.1"}, []string{"198.18.5.1"}},
		{"later rule for the same subnet replaces", []string{"allow 198.18.0.0/16", "deny 198.18.0.0/16"}, nil, []string{"198.18.0.1"}},
		{"allow all SUBNET clears earlier more specific denies", []string{"deny 198.18.5.0/24", "allow all 198.18.0.0/16"},
			[]string{"198.18.5.1", "198.18.0.1"}, []string{"198.19.0.1"}},
		{"a later more specific rule survives allow all", []string{"allow all 198.18.0.0/16", "deny 198.18.5.0/24"},
			[]string{"198.18.0.1"}, []string{"198.18.5.1"}},
		{"deny all then allow one", []string{"deny all", "allow 198.18.0.10"}, []string{"198.18.0.10"}, []string{"198.18.0.11", "::1"}},
		{"IPv6 subnet", []string{"allow 2001:db8::/32", "deny 2001:db8:bad::/48"},
			[]string{"2001:db8::1", "2001:db8:1::1"}, []string{"2001:db8:bad::1", "2001:db9::1", "198.18.0.1"}},
		{"IPv4-mapped clients judged as IPv4", []string{"allow 198.18.0.0/15"}, []string{"::ffff:198.18.0.1"}, []string{"::ffff:10.0.0.1"}},
		{"zoned link-local", []string{"allow fe80::/10"}, []string{"fe80::1%eth0"}, []string{"fec0::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := accessFrom(t, tc.lines...)
			for _, s := range tc.allowed {
				if !a.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("%s denied, want allowed", s)
				}
			}
			for _, s := range tc.denied {
				if a.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("%s allowed, want denied", s)
				}
			}
		})
	}
}

func TestAccessNilServesNobody(t *testing.T) {
	var a *Access
	if a.Allowed(netip.MustParseAddr("127.0.0.1")) || !a.Empty() {
		t.Error("nil access table allows")
	}
}

func BenchmarkAccessAllowed(b *testing.B) {
	cfg, _, _ := config.ParseBytes("acl.conf", []byte("allow 198.18.0.0/15\ndeny 198.18.5.0/24\nallow 2001:db8::/32\nallow 127.0.0.0/8\n"))
	a := NewAccess(cfg.Access, nil)
	addr := netip.MustParseAddr("198.18.0.10")
	b.ReportAllocs()
	for b.Loop() {
		a.Allowed(addr)
	}
}

// TestAccessConnected: `allow connected` stands for the subnets the box is
// on when the table is built, in its place among the other rules.
func TestAccessConnected(t *testing.T) {
	cfg, _, err := config.ParseBytes("acl.conf", []byte("allow connected\ndeny 198.18.0.64/26\n"))
	if err != nil {
		t.Fatal(err)
	}
	none := NewAccess(cfg.Access, nil)
	if none.Allowed(netip.MustParseAddr("198.18.0.10")) {
		t.Error("no connected subnet yet, but 198.18.0.10 is served")
	}
	on := NewAccess(cfg.Access, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:2::/64")})
	for a, want := range map[string]bool{"198.18.0.10": true, "2001:2::9": true, "198.18.0.70": false, "198.19.0.1": false} {
		if got := on.Allowed(netip.MustParseAddr(a)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", a, got, want)
		}
	}
	// deny all after allow connected cancels it.
	cfg, _, _ = config.ParseBytes("acl.conf", []byte("allow connected\ndeny all\nallow 198.18.0.10\n"))
	a := NewAccess(cfg.Access, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")})
	if a.Allowed(netip.MustParseAddr("198.18.0.11")) || !a.Allowed(netip.MustParseAddr("198.18.0.10")) {
		t.Error("deny all did not cancel allow connected")
	}
}
