package config

import (
	"reflect"
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
		{"bindcmdaddress IPv4", "bindcmdaddress 0.0.0.0", func(c *Config) any { return c.BindCmdAddress }, "0.0.0.0"},
		{"bindcmdaddress IPv6 canonical", "bindcmdaddress 0:0::1", func(c *Config) any { return c.BindCmdAddress }, "::1"},
		{"bindcmdaddress last wins", "bindcmdaddress 0.0.0.0\nbindcmdaddress ::", func(c *Config) any { return c.BindCmdAddress }, "::"},
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
