package dhcpopt

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    Config
		wantErr string
	}{
		{args: "inform", want: Config{Mode: ModeInform}},
		{args: "server 198.18.0.100 198.18.0.199", want: Config{Mode: ModeServer,
			RangeStart: netip.MustParseAddr("198.18.0.100"), RangeEnd: netip.MustParseAddr("198.18.0.199")}},
		{args: "server 198.18.0.100 198.18.0.199 lease 12h router 198.18.0.254", want: Config{Mode: ModeServer,
			RangeStart: netip.MustParseAddr("198.18.0.100"), RangeEnd: netip.MustParseAddr("198.18.0.199"),
			Lease: 12 * time.Hour, Router: netip.MustParseAddr("198.18.0.254")}},
		{args: "server 198.18.0.100 198.18.0.199 dns 198.18.0.53,198.18.0.54", want: Config{Mode: ModeServer,
			RangeStart: netip.MustParseAddr("198.18.0.100"), RangeEnd: netip.MustParseAddr("198.18.0.199"),
			DNSServers: []netip.Addr{netip.MustParseAddr("198.18.0.53"), netip.MustParseAddr("198.18.0.54")}}},
		{args: "server 198.18.0.100 198.18.0.199 dns 198.18.0.53,", wantErr: "dns"},
		{args: "", wantErr: "missing mode"},
		{args: "relay", wantErr: `unknown mode "relay"`},
		{args: "inform now", wantErr: "unexpected argument"},
		{args: "server 198.18.0.100", wantErr: "want RANGE_START RANGE_END"},
		{args: "server 198.18.0.100 x", wantErr: "range end"},
		{args: "server 198.18.0.100 198.18.0.199 lease", wantErr: `"lease" needs a value`},
		{args: "server 198.18.0.100 198.18.0.199 lease forever", wantErr: "lease"},
		{args: "server 198.18.0.100 198.18.0.199 gateway 198.18.0.1", wantErr: `unknown option "gateway"`},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var c Config
			err := c.ParseMode(strings.Fields(tc.args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Mode != tc.want.Mode || c.RangeStart != tc.want.RangeStart || c.RangeEnd != tc.want.RangeEnd ||
				c.Lease != tc.want.Lease || c.Router != tc.want.Router || fmt.Sprint(c.DNSServers) != fmt.Sprint(tc.want.DNSServers) {
				t.Errorf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

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
