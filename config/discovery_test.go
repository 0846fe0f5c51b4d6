package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestDiscoveryGood(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name      string
		text      string
		advertise []netip.Addr
		dhcp      *DHCP
		zone      string
		leaseFile string
	}{
		{name: "absent"},
		{name: "advertise", text: "advertise 198.18.0.2 198.18.0.3\nadvertise 2001:db8::1",
			advertise: []netip.Addr{a("198.18.0.2"), a("198.18.0.3"), a("2001:db8::1")}},
		{name: "dhcp off", text: "dhcp off", dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Mode: DHCPOff}},
		{name: "dhcp auto", text: "dhcp auto", dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Mode: DHCPAuto}},
		{name: "dhcp inform", text: "dhcp inform", dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Mode: DHCPInform}},
		{name: "dhcp server", text: "dhcp server 198.18.0.100 198.18.0.150",
			dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Mode: DHCPServer, RangeStart: a("198.18.0.100"), RangeEnd: a("198.18.0.150")}},
		{name: "dhcp server options", text: "driftfile /var/lib/ntpbox/drift\nDHCP server 198.18.0.100 198.18.0.150 lease 12h router 198.18.0.1",
			dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Mode: DHCPServer, RangeStart: a("198.18.0.100"), RangeEnd: a("198.18.0.150"),
				Lease: 12 * time.Hour, Router: a("198.18.0.1")},
			leaseFile: "/var/lib/ntpbox/dhcp.leases"},
		{name: "dhcp dns", text: "dhcp server 198.18.0.100 198.18.0.150 dns 198.18.0.1,198.18.0.53",
			dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Mode: DHCPServer, RangeStart: a("198.18.0.100"), RangeEnd: a("198.18.0.150"),
				DNS: []netip.Addr{a("198.18.0.1"), a("198.18.0.53")}}},
		{name: "dhcp leasefile", text: "driftfile /var/lib/ntpbox/drift\ndhcp server 198.18.0.100 198.18.0.100 leasefile /perm/leases lease 1m",
			dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Mode: DHCPServer, RangeStart: a("198.18.0.100"), RangeEnd: a("198.18.0.100"),
				Lease: time.Minute, LeaseFile: "/perm/leases"},
			leaseFile: "/perm/leases"},
		{name: "last dhcp wins", text: "dhcp inform\ndhcp off", dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Mode: DHCPOff}},
		{name: "dhcp inform with mixed advertise", text: "advertise 2001:db8::1 198.18.0.2\ndhcp inform",
			advertise: []netip.Addr{a("2001:db8::1"), a("198.18.0.2")}, dhcp: &DHCP{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Mode: DHCPInform}},
		{name: "dns zone", text: "dns zone Lab.Test.", zone: "lab.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.text)
			if !reflect.DeepEqual(cfg.Advertise, tt.advertise) {
				t.Errorf("Advertise = %v, want %v", cfg.Advertise, tt.advertise)
			}
			if !reflect.DeepEqual(cfg.DHCP, tt.dhcp) {
				t.Errorf("DHCP = %+v, want %+v", cfg.DHCP, tt.dhcp)
			}
			if cfg.DNSZone != tt.zone {
				t.Errorf("DNSZone = %q, want %q", cfg.DNSZone, tt.zone)
			}
			if got := cfg.DHCPLeaseFile(); got != tt.leaseFile {
				t.Errorf("DHCPLeaseFile() = %q, want %q", got, tt.leaseFile)
			}
		})
	}
}

func TestDiscoveryBad(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		directive  string
		contains   []string
	}{
		{"advertise nothing", "advertise", 1, "advertise", []string{"got nothing"}},
		{"advertise name", "advertise ntp.example", 1, "advertise", []string{`"ntp.example"`}},
		{"advertise zone", "advertise fe80::1%eth0", 1, "advertise", []string{"without zone"}},
		{"advertise unspecified", "advertise 0.0.0.0", 1, "advertise", []string{"unicast"}},
		{"advertise multicast", "advertise 224.0.1.1", 1, "advertise", []string{"unicast"}},
		{"advertise twice", "advertise 198.18.0.2\nadvertise 198.18.0.2", 2, "advertise", []string{"once"}},
		{"dhcp nothing", "dhcp", 1, "dhcp", []string{"got nothing"}},
		{"dhcp unknown mode", "dhcp relay", 1, "dhcp", []string{`"relay"`}},
		{"dhcp off extra", "dhcp off now", 1, "dhcp", []string{`"now"`}},
		{"dhcp inform extra", "dhcp inform 198.18.0.1", 1, "dhcp", []string{`"198.18.0.1"`}},
		{"dhcp server no range", "dhcp server 198.18.0.100", 1, "dhcp", []string{"RANGE_START RANGE_END"}},
		{"dhcp server bad start", "dhcp server 198.18.0.x 198.18.0.150", 1, "dhcp", []string{"range start"}},
		{"dhcp server ipv6", "dhcp server 2001:db8::1 2001:db8::9", 1, "dhcp", []string{"IPv4 range"}},
		{"dhcp server reversed", "dhcp server 198.18.0.150 198.18.0.100", 1, "dhcp", []string{"not before its start"}},
		{"dhcp server short lease", "dhcp server 198.18.0.100 198.18.0.150 lease 30s", 1, "dhcp", []string{"at least 1m"}},
		{"dhcp server bad lease", "dhcp server 198.18.0.100 198.18.0.150 lease forever", 1, "dhcp", []string{"lease"}},
		{"dhcp server bad option", "dhcp server 198.18.0.100 198.18.0.150 gateway 198.18.0.1", 1, "dhcp", []string{`"gateway"`}},
		{"dhcp server ipv6 router", "dhcp server 198.18.0.100 198.18.0.150 router 2001:db8::1", 1, "dhcp", []string{"IPv4 router"}},
		{"dhcp server ipv6 dns", "dhcp server 198.18.0.100 198.18.0.150 dns 2001:db8::53", 1, "dhcp", []string{"IPv4 dns"}},
		{"dhcp server bad dns", "dhcp server 198.18.0.100 198.18.0.150 dns ns1", 1, "dhcp", []string{"dns"}},
		{"dhcp leasefile relative", "dhcp server 198.18.0.100 198.18.0.150 leasefile leases", 1, "dhcp", []string{"absolute path"}},
		{"dhcp leasefile inform", "dhcp inform leasefile /x", 1, "dhcp", []string{"only with server"}},
		{"dhcp without ipv4 to advertise", "advertise 2001:db8::1\ndhcp inform", 2, "dhcp", []string{"IPv4"}},
		{"dns nothing", "dns", 1, "dns", []string{"expected zone NAME, got nothing"}},
		{"dns update", "dns update 198.18.0.53", 1, "dns", []string{`got "update"`}},
		{"dns zone missing", "dns zone", 1, "dns", []string{"zone NAME"}},
		{"dns zone extra", "dns zone lab.test other", 1, "dns", []string{"2 arguments"}},
		{"dns zone root", "dns zone .", 1, "dns", []string{"domain name"}},
		{"dns zone bad", "dns zone lab..test", 1, "dns", []string{"domain name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.text, tt.line, tt.directive, tt.contains...)
		})
	}
}
