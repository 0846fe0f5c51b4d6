package config

import (
	"reflect"
	"testing"
)

func TestClockDirectivesGood(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(*Config) any
		want  any
	}{
		{"makestep absent", "", func(c *Config) any { return c.MakeStep }, (*MakeStep)(nil)},
		{"makestep", "makestep 1.0 3", func(c *Config) any { return c.MakeStep }, &MakeStep{Threshold: 1, Limit: 3}},
		{"makestep unlimited", "makestep 0.1 -1", func(c *Config) any { return c.MakeStep }, &MakeStep{Threshold: 0.1, Limit: -1}},
		{"makestep any negative is unlimited", "makestep 1 -5", func(c *Config) any { return c.MakeStep }, &MakeStep{Threshold: 1, Limit: -1}},
		{"makestep exponent", "makestep 1e-3 0", func(c *Config) any { return c.MakeStep }, &MakeStep{Threshold: 0.001}},
		{"makestep last wins", "makestep 1 3\nmakestep 2 4", func(c *Config) any { return c.MakeStep }, &MakeStep{Threshold: 2, Limit: 4}},
		{"maxchange absent", "", func(c *Config) any { return c.MaxChange }, (*MaxChange)(nil)},
		{"maxchange", "maxchange 1000 1 2", func(c *Config) any { return c.MaxChange }, &MaxChange{Offset: 1000, Start: 1, Ignore: 2}},
		{"maxchange never exit", "maxchange 0.5 0 -7", func(c *Config) any { return c.MaxChange }, &MaxChange{Offset: 0.5, Ignore: -1}},
		{"driftfile", "driftfile /var/lib/ntpbox/drift", func(c *Config) any { return c.DriftFile }, "/var/lib/ntpbox/drift"},
		{"driftfile last wins", "driftfile a\ndriftfile b", func(c *Config) any { return c.DriftFile }, "b"},
		{"rtcsync", "rtcsync", func(c *Config) any { return c.RTCSync }, true},
		{"rtcsync absent", "", func(c *Config) any { return c.RTCSync }, false},
		{"minsources default", "", func(c *Config) any { return c.MinSources }, 1},
		{"minsources", "minsources 2", func(c *Config) any { return c.MinSources }, 2},
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

func TestClockDirectivesBad(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		directive string
		contains  string
	}{
		{"makestep one argument", "makestep 1", "makestep", "expected 2 arguments (a threshold in seconds and a limit of clock updates), got 1"},
		{"makestep three arguments", "makestep 1 3 4", "makestep", "expected 2 arguments"},
		{"makestep threshold not a number", "makestep a 3", "makestep", `threshold: expected a number >= 0, got "a"`},
		{"makestep negative threshold", "makestep -1 3", "makestep", `threshold: expected a number >= 0, got "-1"`},
		{"makestep limit not an integer", "makestep 1 3.5", "makestep", `limit: expected an integer -2147483648..2147483647, got "3.5"`},
		{"maxchange two arguments", "maxchange 1000 1", "maxchange", "expected 3 arguments"},
		{"maxchange negative offset", "maxchange -1 1 2", "maxchange", `offset: expected a number >= 0, got "-1"`},
		{"maxchange negative start", "maxchange 1 -1 2", "maxchange", `start: expected an integer 0..2147483647, got "-1"`},
		{"maxchange ignore not integer", "maxchange 1 1 x", "maxchange", `ignore: expected an integer`},
		{"driftfile missing", "driftfile", "driftfile", "expected a file name, got nothing"},
		{"driftfile two names", "driftfile a b", "driftfile", `expected only a file name, got extra argument "b"`},
		{"rtcsync argument", "rtcsync on", "rtcsync", `expected no arguments, got "on"`},
		{"minsources zero", "minsources 0", "minsources", `expected an integer 1..2147483647, got "0"`},
		{"minsources missing", "minsources", "minsources", "expected a number of sources, got nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.line, 1, tt.directive, tt.contains)
		})
	}
}
