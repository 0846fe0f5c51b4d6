package main

import (
	"strings"
	"testing"
)

func TestDHCPSnippet(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "ntpbox.conf", "advertise 198.18.0.2 2001:db8::2 198.18.0.3\nallow\n")
	noAdvertise := writeFile(t, dir, "plain.conf", "allow\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"isc-dhcpd from config (IPv4 only)", []string{"--for", "isc-dhcpd", "-f", conf}, 0,
			[]string{"option ntp-servers 198.18.0.2, 198.18.0.3;\n"}},
		{"dnsmasq from arguments", []string{"--for", "dnsmasq", "-f", noAdvertise, "198.18.0.9"}, 0,
			[]string{"dhcp-option=option:ntp-server,198.18.0.9\n"}},
		{"kea", []string{"--for", "kea", "198.18.0.2"}, 0, []string{`"name": "ntp-servers"`, `"data": "198.18.0.2"`}},
		{"openwrt", []string{"--for", "openwrt", "198.18.0.2"}, 0, []string{"uci add_list dhcp.lan.dhcp_option='42,198.18.0.2'"}},
		{"routeros", []string{"--for", "routeros", "198.18.0.2", "198.18.0.3"}, 0, []string{`value="'198.18.0.2''198.18.0.3'"`}},
		{"windows", []string{"--for", "windows", "198.18.0.2"}, 0, []string{`Set-DhcpServerv4OptionValue -OptionId 42 -Value "198.18.0.2"`}},
		{"no --for", []string{"198.18.0.2"}, 2, []string{"--for is required"}},
		{"unknown kind", []string{"--for", "cisco", "198.18.0.2"}, 2, []string{`unknown kind "cisco"`}},
		{"bad address", []string{"--for", "kea", "ntp.example"}, 2, []string{`"ntp.example" is not an IP address`}},
		{"IPv6 argument", []string{"--for", "kea", "2001:db8::2"}, 2, []string{"not IPv4"}},
		{"config without advertise", []string{"--for", "kea", "-f", noAdvertise}, 1, []string{"no IPv4 advertise address"}},
		{"bad config", []string{"--for", "kea", "-f", dir + "/missing.conf"}, 1, []string{"missing.conf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := ntpbox(t, append([]string{"dhcp-snippet"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.contains {
				if !strings.Contains(out+errOut, s) {
					t.Errorf("output lacks %q:\n%s%s", s, out, errOut)
				}
			}
		})
	}
}
