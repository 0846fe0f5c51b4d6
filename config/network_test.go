package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkDirectives(t *testing.T) {
	cfg, _, err := ParseBytes("t.conf", []byte("address 198.18.0.2/24\naddress 2001:db8::2/64\ngateway 198.18.0.1\nnameserver 198.18.0.53\nnameserver 198.18.0.54\ninterface eth1\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Network
	if n.DHCP || len(n.Addresses) != 2 || n.Addresses[0] != netip.MustParsePrefix("198.18.0.2/24") ||
		n.Gateway != netip.MustParseAddr("198.18.0.1") || len(n.Nameservers) != 2 || n.Interface != "eth1" {
		t.Errorf("got %+v", n)
	}
	if cfg.Origins["gateway"].Line != 3 {
		t.Errorf("gateway position %v, want line 3", cfg.Origins["gateway"])
	}
	cfg, _, err = ParseBytes("t.conf", []byte("address DHCP\n"))
	if err != nil || !cfg.Network.DHCP {
		t.Errorf("address DHCP: %+v, %v", cfg, err)
	}
}

func TestNetworkDirectiveErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"address\n", "t.conf:1: address: expected dhcp or ADDRESS/LENGTH, got nothing"},
		{"address 198.18.0.2\n", `t.conf:1: address: expected dhcp or ADDRESS/LENGTH of a unicast address, got "198.18.0.2"`},
		{"address 127.0.0.2/8\n", "unicast"},
		{"address dhcp\naddress 198.18.0.2/24\n", "t.conf:2: address: expected either dhcp or static addresses, got 198.18.0.2/24 after dhcp (t.conf:1)"},
		{"address 198.18.0.2/24\naddress dhcp\n", "got dhcp after 198.18.0.2/24"},
		{"address 198.18.0.2/24\naddress 198.18.0.2/16\n", "once"},
		{"gateway 198.18.0.1 198.18.0.2\n", `expected only an IP address, got extra argument "198.18.0.2"`},
		{"gateway router\n", `t.conf:1: gateway: expected a unicast IP address, got "router"`},
		{"nameserver 0.0.0.0\n", "unicast"},
		{"interface a/b\n", "interface name"},
	} {
		_, _, err := ParseBytes("t.conf", []byte(tc.conf))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.conf, err, tc.want)
		}
	}
}
