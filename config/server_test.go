package config

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestServerDirectivesGood(t *testing.T) {
	rl := func(interval, burst, leak, kod int) *RateLimit {
		return &RateLimit{Interval: interval, Burst: burst, Leak: leak, KoD: kod}
	}
	tests := []struct {
		name  string
		text  string
		check func(*Config) any // the value under test
		want  any
	}{
		{"port default", "", func(c *Config) any { return c.Port }, 123},
		{"port", "port 11123", func(c *Config) any { return c.Port }, 11123},
		{"port zero disables", "port 0", func(c *Config) any { return c.Port }, 0},
		{"port max", "port 65535", func(c *Config) any { return c.Port }, 65535},
		{"port last wins", "port 1\nport 2", func(c *Config) any { return c.Port }, 2},
		{"bindaddress", "bindaddress 192.0.2.1",
			func(c *Config) any { return c.BindAddresses }, []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		{"bindaddress several", "bindaddress 192.0.2.1\nbindaddress 2001:db8::1\nbindaddress 192.0.2.2",
			func(c *Config) any { return c.BindAddresses },
			[]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.2")}},
		{"ratelimit absent", "", func(c *Config) any { return c.RateLimit }, (*RateLimit)(nil)},
		{"ratelimit defaults", "ratelimit", func(c *Config) any { return c.RateLimit }, rl(3, 8, 2, 0)},
		{"ratelimit man page example", "ratelimit interval 1 burst 16", func(c *Config) any { return c.RateLimit }, rl(1, 16, 2, 0)},
		{"ratelimit lower limits", "ratelimit interval -19 burst 1 leak 1 kod 0", func(c *Config) any { return c.RateLimit }, rl(-19, 1, 1, 0)},
		{"ratelimit upper limits", "ratelimit interval 12 burst 255 leak 4 kod 4", func(c *Config) any { return c.RateLimit }, rl(12, 255, 4, 4)},
		{"ratelimit upper case", "RateLimit KOD 1 Interval 2", func(c *Config) any { return c.RateLimit }, rl(2, 8, 2, 1)},
		{"ratelimit lines add up", "ratelimit interval 1\nratelimit burst 4", func(c *Config) any { return c.RateLimit }, rl(1, 4, 2, 0)},
		{"clientloglimit default", "", func(c *Config) any { return c.ClientLogLimit }, 524288},
		{"clientloglimit", "clientloglimit 1048576", func(c *Config) any { return c.ClientLogLimit }, 1048576},
		{"clientloglimit zero", "clientloglimit 0", func(c *Config) any { return c.ClientLogLimit }, 0},
		{"clientloglimit max", "clientloglimit 2147483647", func(c *Config) any { return c.ClientLogLimit }, 2147483647},
		{"noclientlog", "noclientlog", func(c *Config) any { return c.NoClientLog }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.text)
			if got := tt.check(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestServerDirectivesBad(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line      int
		directive string
		contains  string
	}{
		{"port too big", "port 65536", 1, "port", `expected an integer 0..65535, got "65536"`},
		{"port negative", "port -1", 1, "port", `got "-1"`},
		{"port missing", "port", 1, "port", "expected a port 0..65535, got nothing"},
		{"port two values", "port 1 2", 1, "port", `got extra argument "2"`},
		{"port not a number", "port ntp", 1, "port", `got "ntp"`},
		{"bindaddress name", "bindaddress localhost", 1, "bindaddress", `expected an IP address without zone, got "localhost"`},
		{"bindaddress zone", "bindaddress fe80::1%eth0", 1, "bindaddress", `got "fe80::1%eth0"`},
		{"bindaddress missing", "bindaddress", 1, "bindaddress", "expected an IP address, got nothing"},
		{"bindaddress twice", "bindaddress 192.0.2.1\nbindaddress 192.0.2.1", 2, "bindaddress",
			"expected each address once, got 192.0.2.1 again (first at test.conf:1)"},
		{"ratelimit interval too long", "ratelimit interval 13", 1, "ratelimit", `interval: expected an integer -19..12, got "13"`},
		{"ratelimit interval too short", "ratelimit interval -20", 1, "ratelimit", `interval: expected an integer -19..12, got "-20"`},
		{"ratelimit burst zero", "ratelimit burst 0", 1, "ratelimit", `burst: expected an integer 1..255, got "0"`},
		{"ratelimit burst too big", "ratelimit burst 256", 1, "ratelimit", `burst: expected an integer 1..255, got "256"`},
		{"ratelimit leak zero", "ratelimit leak 0", 1, "ratelimit", `leak: expected an integer 1..4, got "0"`},
		{"ratelimit leak too big", "ratelimit leak 5", 1, "ratelimit", `leak: expected an integer 1..4, got "5"`},
		{"ratelimit kod too big", "ratelimit kod 5", 1, "ratelimit", `kod: expected an integer 0..4, got "5"`},
		{"ratelimit value missing", "ratelimit burst 4 interval", 1, "ratelimit", "interval: expected an integer -19..12, got nothing"},
		{"ratelimit unknown option", "ratelimit rate 4", 1, "ratelimit", `expected an option (interval, burst, leak, kod), got "rate"`},
		{"ratelimit with noclientlog", "ratelimit\nnoclientlog", 1, "ratelimit", "cannot be used with noclientlog (test.conf:2)"},
		{"clientloglimit negative", "clientloglimit -1", 1, "clientloglimit", `expected an integer 0..2147483647, got "-1"`},
		{"clientloglimit too big", "clientloglimit 2147483648", 1, "clientloglimit", `got "2147483648"`},
		{"clientloglimit with unit", "clientloglimit 1M", 1, "clientloglimit", `got "1M"`},
		{"noclientlog argument", "noclientlog yes", 1, "noclientlog", `expected no arguments, got "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.text, tt.line, tt.directive, tt.contains)
		})
	}
}
