package netstate

import (
	"net/netip"
	"slices"
	"testing"
)

func state() State {
	pp := netip.MustParsePrefix
	return State{Links: []Link{
		{Name: "lo", Up: true, Loopback: true, Addrs: []netip.Prefix{pp("127.0.0.1/8"), pp("::1/128")}},
		{Name: "eth0", Up: true, Addrs: []netip.Prefix{pp("198.18.0.2/24"), pp("198.18.0.3/24"), pp("2001:2::2/64"), pp("fe80::1/64")}},
		{Name: "eth1", Up: false, Addrs: []netip.Prefix{pp("198.19.0.2/24")}},
	}}
}

func TestConnected(t *testing.T) {
	got := state().Connected()
	want := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:2::/64"), netip.MustParsePrefix("fe80::/64")}
	if !slices.Equal(got, want) {
		t.Errorf("Connected() = %v, want %v (no loopback, no link that is down, each subnet once)", got, want)
	}
}

func TestIsLocal(t *testing.T) {
	st := state()
	for a, want := range map[string]bool{
		"198.18.0.2": true, "::ffff:198.18.0.3": true, "198.19.0.2": true, "127.0.0.5": true, "::": true, "::2": false,
		"fe80::1": true, "198.18.0.4": false, "2001:2::3": false,
	} {
		if got := st.IsLocal(netip.MustParseAddr(a)); got != want {
			t.Errorf("IsLocal(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestEqualIgnoresVersion(t *testing.T) {
	a, b := state(), state()
	b.Version = 7
	if !a.Equal(b) {
		t.Error("states differing in Version only are not Equal")
	}
	b.Links[1].Addrs = b.Links[1].Addrs[1:]
	if a.Equal(b) {
		t.Error("states with other addresses are Equal")
	}
}

// TestConnectedClamped (issue 11): a LAN cannot widen `allow connected`
// beyond a /16 or a /48, whatever prefix it hands the box.
func TestConnectedClamped(t *testing.T) {
	st := State{Links: []Link{{Name: "eth0", Up: true, Addrs: []netip.Prefix{
		netip.MustParsePrefix("198.18.7.9/0"), netip.MustParsePrefix("198.19.0.2/12"),
		netip.MustParsePrefix("2001:2:3:4::9/16"), netip.MustParsePrefix("2001:2:3:500::9/56"),
	}}}}
	want := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16"), netip.MustParsePrefix("198.19.0.0/16"),
		netip.MustParsePrefix("2001:2:3::/48"), netip.MustParsePrefix("2001:2:3:500::/56")}
	if got := st.Connected(); !slices.Equal(got, want) {
		t.Errorf("Connected() = %v, want %v", got, want)
	}
}
