package box

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestPickLAN6(t *testing.T) {
	a := netip.MustParseAddr
	mac := net.HardwareAddr{2, 0, 0x5e, 0x10, 0, 2}
	ifs := []lan6{
		{Name: "eth0", HWAddr: mac, Addrs: []netip.Addr{a("2001:2::2")}},
		{Name: "eth1", HWAddr: mac, Addrs: []netip.Addr{a("2001:2:1::2"), a("2001:2:1::3")}},
		{Name: "wg0", Addrs: []netip.Addr{a("2001:2:9::1")}},
	}
	for _, tc := range []struct{ name, conf, v4, want, err string }{
		{"first with an address", "dhcp6 inform", "", "eth0", ""},
		{"the IPv4 LAN", "dhcp6 inform", "eth1", "eth1", ""},
		{"bindaddress", "bindaddress 2001:2:1::3\ndhcp6 inform", "eth0", "eth1", ""},
		{"advertise", "advertise 198.18.0.2 2001:2:1::2\ndhcp6 inform", "eth0", "eth1", ""},
		{"no MAC", "advertise 2001:2:9::1\ndhcp6 inform", "", "", "link-layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickLAN6(parse(t, tc.conf), ifs, tc.v4)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Name != tc.want {
				t.Errorf("got %v %v, want %s", got.Name, err, tc.want)
			}
		})
	}
	if _, err := pickLAN6(parse(t, "dhcp6 inform"), []lan6{{Name: "eth0", HWAddr: mac}}, ""); err == nil {
		t.Error("no global IPv6 address anywhere: no error")
	}
}

func TestDHCP6Config(t *testing.T) {
	a := netip.MustParseAddr
	lan := lan6{Name: "eth0", HWAddr: net.HardwareAddr{2, 0, 0x5e, 0x10, 0, 2}, Addrs: []netip.Addr{a("2001:2::2"), a("2001:2::5")}}
	for _, tc := range []struct {
		name, conf     string
		ntp, dns       []netip.Addr
		domains, names []string
		err            string
	}{
		{name: "advertise's IPv6 addresses", conf: "advertise 198.18.0.2 2001:2::7 2001:2::8\ndhcp6 inform",
			ntp: []netip.Addr{a("2001:2::7"), a("2001:2::8")}},
		{name: "the box when advertise has no IPv6", conf: "advertise 198.18.0.2\ndhcp6 inform name ntp.lab.test",
			ntp: []netip.Addr{a("2001:2::2")}, names: []string{"ntp.lab.test"}},
		{name: "dns zone", conf: "dns zone lab.test\ndhcp6 inform",
			ntp: []netip.Addr{a("2001:2::2")}, dns: []netip.Addr{a("2001:2::2")}, domains: []string{"lab.test"}},
		{name: "bound address", conf: "bindaddress 2001:2::5\ndns zone lab.test\ndhcp6 inform",
			ntp: []netip.Addr{a("2001:2::5")}, dns: []netip.Addr{a("2001:2::5")}, domains: []string{"lab.test"}},
		{name: "bound to IPv4 only", conf: "bindaddress 198.18.0.2\nadvertise 2001:2::9\ndns zone lab.test\ndhcp6 inform",
			ntp: []netip.Addr{a("2001:2::9")}, domains: []string{"lab.test"}},
		{name: "nothing to advertise", conf: "bindaddress 198.18.0.2\ndhcp6 inform", err: "no IPv6 address to advertise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dhcp6Config(parse(t, tc.conf), lan)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.NTPServers, tc.ntp) || !reflect.DeepEqual(c.DNSServers, tc.dns) ||
				!reflect.DeepEqual(c.Domains, tc.domains) || !reflect.DeepEqual(c.NTPNames, tc.names) {
				t.Errorf("got ntp %v dns %v domains %v names %v, want %v %v %v %v",
					c.NTPServers, c.DNSServers, c.Domains, c.NTPNames, tc.ntp, tc.dns, tc.domains, tc.names)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
