package dhcpopt

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"inform needs no range", func(c *Config) { c.Mode, c.RangeStart, c.Subnet = ModeInform, netip.Addr{}, netip.Prefix{} }, ""},
		{"no ntp", func(c *Config) { c.NTPServers = nil }, "no NTP servers"},
		{"ipv6 ntp", func(c *Config) { c.NTPServers = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }, "not IPv4"},
		{"no server id", func(c *Config) { c.ServerID = netip.Addr{} }, "not IPv4"},
		{"range outside", func(c *Config) { c.RangeEnd = netip.MustParseAddr("198.19.0.1") }, "outside subnet"},
		{"range reversed", func(c *Config) { c.RangeStart, c.RangeEnd = c.RangeEnd, c.RangeStart }, "before start"},
		{"short lease", func(c *Config) { c.Lease = time.Second }, "shorter than 1m"},
		{"router outside", func(c *Config) { c.Router = netip.MustParseAddr("198.19.0.1") }, "router"},
		{"subnet /31", func(c *Config) { c.Subnet = netip.MustParsePrefix("198.18.0.0/31") }, "/8../30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serverConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}
