package config

import (
	"reflect"
	"testing"
)

func TestDHCP6Good(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       *DHCP6
	}{
		{"absent", "dhcp inform", nil},
		{"off", "dhcp6 off", &DHCP6{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}}},
		{"inform", "advertise 198.18.0.2\nDHCP6 Inform", &DHCP6{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Inform: true}},
		{"inform with names", "dhcp6 inform name NTP1.Lab.Test. name ntp2.lab.test",
			&DHCP6{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Inform: true, Names: []string{"ntp1.lab.test", "ntp2.lab.test"}}},
		{"last line wins", "dhcp6 inform\ndhcp6 off", &DHCP6{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}}},
		// Option 56 carries IPv6 servers, but an IPv4-only advertise list is
		// no error here: the daemon then advertises the box's own IPv6
		// address.
		{"ipv4 advertise", "advertise 198.18.0.2\ndhcp6 inform", &DHCP6{Origin: Origin{Layer: LayerFile, File: testFile, Line: 2}, Inform: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.text)
			if !reflect.DeepEqual(cfg.DHCP6, tt.want) {
				t.Errorf("DHCP6 = %+v, want %+v", cfg.DHCP6, tt.want)
			}
		})
	}
}

func TestDHCP6Bad(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		line       int
		contains   []string
	}{
		{"nothing", "dhcp6", 1, []string{"expected off or inform, got nothing"}},
		{"server mode", "dhcp6 server 2001:2::100 2001:2::200", 1, []string{`expected off or inform, got "server"`}},
		{"off extra", "dhcp6 off now", 1, []string{`expected nothing after off, got "now"`}},
		{"inform address", "dhcp6 inform 2001:2::2", 1, []string{`expected name FQDN after inform, got "2001:2::2"`}},
		{"name missing", "dhcp6 inform name", 1, []string{"expected a domain name after name, got nothing"}},
		{"name bad", "local stratum 3\ndhcp6 inform name lab..test", 2, []string{`got "lab..test"`}},
		{"name root", "dhcp6 inform name .", 1, []string{`got "."`}},
		{"name twice", "dhcp6 inform name a.test name A.test.", 1, []string{"a.test again"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.text, tt.line, "dhcp6", tt.contains...)
		})
	}
}
