package box

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, _, err := config.ParseBytes("test.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPickLAN(t *testing.T) {
	addrs := []ifaceAddr{
		{"lo", netip.MustParsePrefix("127.0.0.1/8")},
		{"eth0", netip.MustParsePrefix("198.18.0.2/24")},
		{"eth1", netip.MustParsePrefix("198.19.0.2/24")},
		{"eth1", netip.MustParsePrefix("198.19.1.2/24")},
	}
	for _, tc := range []struct{ name, conf, want, err string }{
		{"first non-loopback", "dns zone lab.test", "eth0 198.18.0.2/24", ""},
		{"bindaddress", "bindaddress 198.19.1.2\ndns zone lab.test", "eth1 198.19.1.2/24", ""},
		{"local advertise", "advertise 203.0.113.1 198.19.0.2\ndhcp inform", "eth1 198.19.0.2/24", ""},
		{"server range", "dhcp server 198.19.1.100 198.19.1.150", "eth1 198.19.1.2/24", ""},
		{"server range beats bindaddress elsewhere", "bindaddress 198.18.0.2\ndhcp server 198.19.0.100 198.19.0.150", "eth1 198.19.0.2/24", ""},
		{"range on no interface", "dhcp server 198.18.5.100 198.18.5.150", "", "no interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickLAN(parse(t, tc.conf), addrs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Name+" "+got.Prefix.String() != tc.want {
				t.Errorf("got %v %v, want %s", got, err, tc.want)
			}
		})
	}
	if _, err := pickLAN(parse(t, "dns zone x.test"), addrs[:1]); err == nil {
		t.Error("only loopback: no error")
	}
}

func TestDHCPConfig(t *testing.T) {
	lan := ifaceAddr{"eth0", netip.MustParsePrefix("198.18.0.2/24")}
	c := dhcpConfig(parse(t, "dns zone lab.test\ndhcp server 198.18.0.100 198.18.0.150 lease 2h router 198.18.0.1"), lan)
	if c.Mode != dhcpopt.ModeServer || c.ServerID != lan.Prefix.Addr() || c.Subnet.String() != "198.18.0.0/24" ||
		c.Domain != "lab.test" || c.Router.String() != "198.18.0.1" || len(c.NTPServers) != 1 || c.NTPServers[0] != lan.Prefix.Addr() {
		t.Errorf("server: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c = dhcpConfig(parse(t, "advertise 2001:db8::1 198.18.0.3 198.18.0.4\ndhcp inform"), lan)
	if c.Mode != dhcpopt.ModeInform || len(c.NTPServers) != 2 || c.NTPServers[0].String() != "198.18.0.3" {
		t.Errorf("inform: %+v", c)
	}
	if !wantsDiscovery(parse(t, "dhcp auto")) || wantsDiscovery(parse(t, "dhcp off")) || !wantsDiscovery(parse(t, "dhcp inform")) {
		t.Error("wantsDiscovery")
	}
}

// dhcp auto leases from the upper half of the subnet's hosts.
func TestAutoRange(t *testing.T) {
	for _, tc := range []struct{ prefix, start, end, err string }{
		{"198.18.0.2/24", "198.18.0.128", "198.18.0.254", ""},
		{"198.18.4.9/22", "198.18.6.0", "198.18.7.254", ""},
		{"198.18.0.9/29", "198.18.0.12", "198.18.0.14", ""},
		{"198.18.0.9/30", "", "", "need an IPv4 subnet /8../29"},
		{"2001:db8::1/64", "", "", "need an IPv4 subnet"},
	} {
		s, e, err := autoRange(netip.MustParsePrefix(tc.prefix))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want error %q", tc.prefix, err, tc.err)
			}
			continue
		}
		if err != nil || s.String() != tc.start || e.String() != tc.end {
			t.Errorf("%s: got %v-%v, %v; want %s-%s", tc.prefix, s, e, err, tc.start, tc.end)
		}
	}
}

// DNS over TCP listens only on the LAN address (a connection is state
// the box holds), UDP on every address; bindaddress restricts both.
func TestDNSHosts(t *testing.T) {
	lan := ifaceAddr{"eth0", netip.MustParsePrefix("198.18.0.2/24")}
	for _, tc := range []struct{ name, conf, udp, tcp string }{
		{"no bindaddress", "dns zone lab.test", `[""]`, `["198.18.0.2"]`},
		{"bindaddresses", "bindaddress 198.18.0.2\nbindaddress 2001:db8::2\ndns zone lab.test", `["198.18.0.2" "2001:db8::2"]`, `["198.18.0.2" "2001:db8::2"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			udp, tcp := dnsHosts(parse(t, tc.conf), lan)
			if got := fmt.Sprintf("%q", udp); got != tc.udp {
				t.Errorf("udp %s, want %s", got, tc.udp)
			}
			if got := fmt.Sprintf("%q", tcp); got != tc.tcp {
				t.Errorf("tcp %s, want %s", got, tc.tcp)
			}
		})
	}
}
