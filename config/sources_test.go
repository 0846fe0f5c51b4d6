package config

import (
	"reflect"
	"strings"
	"testing"
)

// src returns a Source with the defaults of a server (or pool) line on
// line 1 of testFile, changed by edit.
func src(host string, pool bool, edit func(*Source)) Source {
	s := Source{Origin: Origin{Layer: LayerFile, File: testFile, Line: 1}, Pool: pool, Host: host, Port: 123, MinPoll: 6, MaxPoll: 10,
		MaxDelay: 3, MaxDelayDevRatio: 10, Asymmetry: 1, PollTarget: 8, Presend: 100, Version: 4, MinSamples: -1, MaxSamples: -1}
	if pool {
		s.MaxSources = 4
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

func TestSourcesGood(t *testing.T) {
	tests := []struct {
		name         string
		line         string
		want         Source
		wantWarnings int
	}{
		{"server iburst", "server 0.centos.pool.ntp.org iburst",
			src("0.centos.pool.ntp.org", false, func(s *Source) { s.IBurst = true }), 0},
		{"pool with maxsources", "pool pool.ntp.org iburst maxsources 3",
			src("pool.ntp.org", true, func(s *Source) { s.IBurst = true; s.MaxSources = 3 }), 0},
		{"pool defaults", "pool pool.ntp.org", src("pool.ntp.org", true, nil), 0},
		{"every implemented option", "server 192.0.2.1 port 1123 minpoll 4 maxpoll 8 prefer trust require noselect burst",
			src("192.0.2.1", false, func(s *Source) {
				s.Port, s.MinPoll, s.MaxPoll = 1123, 4, 8
				s.Prefer, s.Trust, s.Require, s.NoSelect, s.Burst = true, true, true, true, true
			}), 0},
		{"IPv6 address", "server 2001:db8::123", src("2001:db8::123", false, nil), 0},
		{"host kept as written, options case-insensitive", "SERVER Ntp.Example.COM. IBURST MinPoll 3",
			src("Ntp.Example.COM.", false, func(s *Source) { s.IBurst = true; s.MinPoll = 3 }), 0},
		{"last option wins", "server ntp1 port 1 port 2", src("ntp1", false, func(s *Source) { s.Port = 2 }), 0},
		{"poll limits", "server ntp1 minpoll -7 maxpoll 24", src("ntp1", false, func(s *Source) { s.MinPoll, s.MaxPoll = -7, 24 }), 0},
		{"minpoll alone raises maxpoll", "server ntp1 minpoll 12", src("ntp1", false, func(s *Source) { s.MinPoll, s.MaxPoll = 12, 12 }), 0},
		{"maxpoll alone lowers minpoll", "server ntp1 maxpoll 4", src("ntp1", false, func(s *Source) { s.MinPoll, s.MaxPoll = 4, 4 }), 0},
		{"unimplemented options", "server ntp1 copy xleave maxdelay 0.3 extfield F323",
			src("ntp1", false, func(s *Source) {
				s.Options = []string{"copy", "extfield"}
				s.XLeave, s.MaxDelay = true, 0.3
			}), 2}, // copy and extfield
		{"unimplemented option listed once", "server ntp1 copy COPY",
			src("ntp1", false, func(s *Source) { s.Options = []string{"copy"} }), 1},
		{"maxsources on a server is ignored", "server ntp1 maxsources 2", src("ntp1", false, nil), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, tt.line)
			if len(cfg.Sources) != 1 {
				t.Fatalf("got %d sources, want 1", len(cfg.Sources))
			}
			if got := cfg.Sources[0]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if len(warnings) != tt.wantWarnings {
				t.Errorf("got warnings %v, want %d", warnings, tt.wantWarnings)
			}
			for _, w := range warnings {
				if !strings.HasPrefix(w.String(), "test.conf:1: ") || w.Directive != strings.ToLower(strings.Fields(tt.line)[0]) {
					t.Errorf("warning %q has the wrong position or directive", w)
				}
			}
		})
	}
}

// TestSourceUnimplementedOptions checks every chrony 4.3 option ntpbox
// accepts without implementing, with a valid value.
func TestSourceUnimplementedOptions(t *testing.T) {
	options := []string{
		"auto_offline", "offline", "copy", "ipv4", "ipv6",
		"certset 0", "maxdelayquant 0.2",
		"ntsport 4460", "extfield f324", "maxunreach 100",
	}
	for _, opt := range options {
		t.Run(opt, func(t *testing.T) {
			cfg, warnings := mustParse(t, "pool pool.example "+opt)
			name := strings.Fields(opt)[0]
			if got := cfg.Sources[0].Options; len(got) != 1 || got[0] != name {
				t.Errorf("Options = %q, want [%q]", got, name)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0].Msg, "not implemented by ntpbox") {
				t.Errorf("warnings = %v, want one 'not implemented'", warnings)
			}
		})
	}
}

func TestSourcesBad(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		contains []string
	}{
		{"no host", "server", []string{"expected a hostname or an IP address, got nothing"}},
		{"option instead of host", "pool iburst", []string{`before the options, got option "iburst"`}},
		{"bad host characters", "server bad_host!", []string{`expected a hostname or an IP address, got "bad_host!"`}},
		{"bad IPv4 address", "server 192.0.2.300", []string{`got "192.0.2.300"`}},
		{"label starts with hyphen", "server -ntp.example", []string{`got "-ntp.example"`}},
		{"empty label", "server ntp..example", []string{`got "ntp..example"`}},
		{"unknown option", "server ntp1 iburst bogus", []string{`unknown option "bogus"`}},
		{"minpoll missing value", "server ntp1 minpoll", []string{"minpoll: expected an integer -7..24, got nothing"}},
		{"minpoll too big", "server ntp1 minpoll 25", []string{`minpoll: expected an integer -7..24, got "25"`}},
		{"maxpoll too small", "server ntp1 maxpoll -8", []string{`maxpoll: expected an integer -7..24, got "-8"`}},
		{"minpoll not a number", "server ntp1 minpoll six", []string{`got "six"`}},
		{"maxpoll below minpoll", "server ntp1 minpoll 10 maxpoll 6", []string{"expected maxpoll >= minpoll, got minpoll 10 and maxpoll 6"}},
		{"port zero", "server ntp1 port 0", []string{`port: expected an integer 1..65535, got "0"`}},
		{"port too big", "server ntp1 port 65536", []string{`port: expected an integer 1..65535, got "65536"`}},
		{"maxsources too big", "pool pool.example maxsources 17", []string{`maxsources: expected an integer 1..16, got "17"`}},
		{"maxsources zero", "pool pool.example maxsources 0", []string{"maxsources: expected an integer 1..16"}},
		// Authentication is not built: fail closed, whatever the value.
		{"key", "server ntp1 iburst key 5", []string{`option "key": authentication (symmetric keys, NTS) is not built into ntpbox`}},
		{"key zero", "server ntp1 key 0", []string{`option "key": authentication`}},
		{"nts", "server time.cloudflare.com iburst nts", []string{`option "nts": authentication (symmetric keys, NTS) is not built into ntpbox`}},
		{"nts on a pool", "pool pool.example NTS", []string{`option "nts": authentication`}},
		{"version 5", "server ntp1 version 5", []string{`version: expected an integer 1..4, got "5"`}},
		{"unknown extension field", "server ntp1 extfield F325", []string{"extfield: expected extension field type F323 or F324"}},
		{"extension field not hex", "server ntp1 extfield xyz", []string{"extfield: expected a hexadecimal number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			directive := strings.Fields(tt.line)[0]
			wantError(t, "\n\n"+tt.line, 3, directive, tt.contains...)
		})
	}
}

func TestSourcesOrder(t *testing.T) {
	cfg, _ := mustParse(t, "server a.example\npool b.example\nserver c.example\n")
	var hosts []string
	for _, s := range cfg.Sources {
		hosts = append(hosts, s.Host)
	}
	if got := strings.Join(hosts, " "); got != "a.example b.example c.example" {
		t.Errorf("hosts in order %q", got)
	}
}
