package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestCmdDirectivesGood(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(*Config) any
		want  any
	}{
		{"bindcmdaddress default", "", func(c *Config) any { return c.BindCmdAddress }, ""},
		{"bindcmdaddress socket", "bindcmdaddress /run/ntpbox/ntpbox.sock", func(c *Config) any { return c.BindCmdAddress }, "/run/ntpbox/ntpbox.sock"},
		{"bindcmdaddress disable socket", "bindcmdaddress /", func(c *Config) any { return c.BindCmdAddress }, "/"},
		{"bindcmdaddress IPv4", "bindcmdaddress 0.0.0.0", func(c *Config) any { return []any{c.BindCmdIPv4.String(), c.BindCmdIPv6.IsValid(), c.BindCmdAddress} }, []any{"0.0.0.0", false, ""}},
		{"bindcmdaddress IPv6 canonical", "bindcmdaddress 0:0::1", func(c *Config) any { return c.BindCmdIPv6.String() }, "::1"},
		{"bindcmdaddress one of each", "bindcmdaddress 192.0.2.1\nbindcmdaddress /run/x.sock\nbindcmdaddress 0.0.0.0\nbindcmdaddress ::",
			func(c *Config) any { return []string{c.BindCmdIPv4.String(), c.BindCmdIPv6.String(), c.BindCmdAddress} }, []string{"0.0.0.0", "::", "/run/x.sock"}},
		{"cmdport default", "", func(c *Config) any { return c.CmdPort }, 323},
		{"cmdport", "cmdport 257", func(c *Config) any { return c.CmdPort }, 257},
		{"cmdport zero disables", "cmdport 0", func(c *Config) any { return c.CmdPort }, 0},
		{"pidfile", "pidfile /run/ntpbox.pid", func(c *Config) any { return c.PidFile }, "/run/ntpbox.pid"},
		{"pidfile disabled", "pidfile /", func(c *Config) any { return c.PidFile }, "/"},
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

func TestCmdDirectivesBad(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		directive string
		contains  string
	}{
		{"bindcmdaddress host name", "bindcmdaddress localhost", "bindcmdaddress",
			`expected an IP address without zone or an absolute socket path, got "localhost"`},
		{"bindcmdaddress relative path", "bindcmdaddress run/ntpbox.sock", "bindcmdaddress", `got "run/ntpbox.sock"`},
		{"bindcmdaddress missing", "bindcmdaddress", "bindcmdaddress", "expected an IP address or a socket path, got nothing"},
		{"cmdport too big", "cmdport 70000", "cmdport", `expected an integer 0..65535, got "70000"`},
		{"cmdport missing", "cmdport", "cmdport", "got nothing"},
		{"pidfile missing", "pidfile", "pidfile", "expected a file name, got nothing"},
		{"pidfile two", "pidfile a b", "pidfile", `extra argument "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.line, 1, tt.directive, tt.contains)
		})
	}
}

// TestBindCmdAddressRender: the path and each family's address render
// on their own lines, each with the line it came from.
func TestBindCmdAddressRender(t *testing.T) {
	cfg, _ := mustParse(t, "bindcmdaddress 0.0.0.0\nbindcmdaddress /run/x.sock\nbindcmdaddress ::1\n")
	var b strings.Builder
	if err := cfg.Render(&b); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{} // directive -> origin
	for _, l := range strings.Split(b.String(), "\n") {
		if d, o, ok := strings.Cut(l, "#"); ok {
			lines[strings.TrimSpace(d)] = strings.TrimSpace(o)
		}
	}
	for d, o := range map[string]string{
		"bindcmdaddress /run/x.sock": "test.conf:2",
		"bindcmdaddress 0.0.0.0":     "test.conf:1",
		"bindcmdaddress ::1":         "test.conf:3",
	} {
		if lines[d] != o {
			t.Errorf("render: %q from %q, want %q:\n%s", d, lines[d], o, b.String())
		}
	}
}
