package control

import (
	"net/netip"
	"testing"
)

func TestParseBurst(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		want   BurstArgs
		broken bool
	}{
		{args: []string{"4/8"}, want: BurstArgs{Good: 4, Max: 8}},
		{args: []string{"0/1", "192.0.2.1"}, want: BurstArgs{Max: 1, Prefix: netip.MustParsePrefix("192.0.2.1/32")}},
		{args: []string{"1/2", "192.0.2.77/24"}, want: BurstArgs{Good: 1, Max: 2, Prefix: netip.MustParsePrefix("192.0.2.0/24")}},
		{args: []string{"1/2", "255.255.0.0/192.0.2.77"}, want: BurstArgs{Good: 1, Max: 2, Prefix: netip.MustParsePrefix("192.0.0.0/16")}},
		{args: []string{"1/2", "ffff:ffff::/2001:db8::1"}, want: BurstArgs{Good: 1, Max: 2, Prefix: netip.MustParsePrefix("2001:db8::/32")}},
		{args: []string{"1/2", "2001:db8::/32"}, want: BurstArgs{Good: 1, Max: 2, Prefix: netip.MustParsePrefix("2001:db8::/32")}},
		{args: []string{"1/2", "ntp1.example.net"}, want: BurstArgs{Good: 1, Max: 2, Name: "ntp1.example.net"}},
		{args: []string{}, broken: true},
		{args: []string{"4"}, broken: true},
		{args: []string{"4/8x"}, broken: true},
		{args: []string{"9/8"}, broken: true},
		{args: []string{"1/65"}, broken: true},
		{args: []string{"1/0"}, broken: true},
		{args: []string{"1/2", "255.0.255.0/10.0.0.0"}, broken: true}, // not a prefix
		{args: []string{"1/2", "255.255.0.0/2001:db8::1"}, broken: true},
		{args: []string{"1/2", "a", "b"}, broken: true},
	} {
		got, err := ParseBurst(tc.args)
		switch {
		case tc.broken && err == nil:
			t.Errorf("%q: accepted as %+v", tc.args, got)
		case !tc.broken && (err != nil || got != tc.want):
			t.Errorf("%q: %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	a := BurstArgs{Prefix: netip.MustParsePrefix("192.0.2.0/24")}
	if !a.Match("x", netip.MustParseAddr("::ffff:192.0.2.9")) || a.Match("x", netip.MustParseAddr("192.0.3.1")) {
		t.Errorf("prefix match wrong")
	}
	if n := (BurstArgs{Name: "ntp1"}); !n.Match("ntp1", netip.Addr{}) || n.Match("ntp2", netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("name match wrong")
	}
}
