package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	want := &Config{Port: 123, ClientLogLimit: 524288, MinSources: 1, CmdPort: 323, Tuning: DefaultTuning()}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() = %+v, want %+v", got, want)
	}
	if Default() == Default() {
		t.Error("Default() returns a shared Config")
	}
}

// TestSyntax checks the line syntax: files whose only meaningful line is
// `port 1`.
func TestSyntax(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"plain", "port 1"},
		{"trailing newline", "port 1\n"},
		{"blank lines", "\n\n  \t\nport 1\n\n"},
		{"hash comment", "# comment\nport 1"},
		{"bang comment", "! comment\nport 1"},
		{"semicolon comment", "; comment\nport 1"},
		{"percent comment", "% comment\nport 1"},
		{"indented comment", "   \t# comment\nport 1"},
		{"comment without space", "#port 2\nport 1"},
		{"comment char glued to directive", "port 1\n;port 2"},
		{"CRLF line endings", "# comment\r\nport 1\r\n"},
		{"tabs and spaces", "\t port \t 1 \t"},
		{"vertical tab and form feed", "port\v\f1"},
		{"upper-case directive", "PORT 1"},
		{"mixed-case directive", "Port 1"},
		{"trailing comment (ntpbox, not chrony)", "port 1 # the NTP port"},
		{"trailing comment without space after #", "port 1	#1 is odd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, tt.text)
			if cfg.Port != 1 {
				t.Errorf("Port = %d, want 1", cfg.Port)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings: %v", warnings)
			}
		})
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	for _, text := range []string{"", "\n", "# only a comment\n"} {
		cfg, warnings := mustParse(t, text)
		if !reflect.DeepEqual(cfg, Default()) || len(warnings) != 0 {
			t.Errorf("ParseBytes(%q) = %+v, %v; want Default(), no warnings", text, cfg, warnings)
		}
	}
}

func TestUnknownDirective(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{"typo", "alow 10.0.0.0/8", "test.conf:1: alow: unknown directive"},
		{"case kept as written", "FrobNicate 1", "test.conf:1: FrobNicate: unknown directive"},
		{"Kelvin sign is not k", "\u212aeyfile /etc/keys", "test.conf:1: \u212aeyfile: unknown directive"},
		{"ntpd directive", "restrict default nomodify", "test.conf:1: restrict: unknown directive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseBytes(testFile, []byte(tt.line))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAllErrorsCollected(t *testing.T) {
	text := "port 99999\nserver ntp1 iburst\nlocal stratum 16\nlogdir /var/log/chrony\nbogus\n"
	cfg, warnings, err := ParseBytes(testFile, []byte(text))
	if cfg != nil {
		t.Errorf("got Config %+v with errors", cfg)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined error", err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("%v is not an *Error", e)
		}
		got = append(got, pe.Origin.String()+" "+pe.Directive)
	}
	want := []string{"test.conf:1 port", "test.conf:3 local", "test.conf:5 bogus"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors at %q, want %q", got, want)
	}
	if len(warnings) != 1 || warnings[0].Directive != "logdir" {
		t.Errorf("warnings = %v, want the logdir one even on failure", warnings)
	}
}

func TestStrings(t *testing.T) {
	pos := Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 7}
	if got, want := pos.String(), "/etc/ntpbox.conf:7"; got != want {
		t.Errorf("Origin.String() = %q, want %q", got, want)
	}
	w := Warning{Origin: pos, Directive: "log", Msg: msgNotImplemented}
	if got, want := w.String(), "/etc/ntpbox.conf:7: log: not implemented by ntpbox; ignored"; got != want {
		t.Errorf("Warning.String() = %q, want %q", got, want)
	}
	_, _, err := ParseBytes("/etc/ntpbox.conf", []byte("\n\n\n\n\n\nallow 10.0.0.0/33"))
	want := `/etc/ntpbox.conf:7: allow: expected an address, a subnet or "all", got "10.0.0.0/33"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %q", err, want)
	}
}

func TestIncludeNotAvailableInParseBytes(t *testing.T) {
	for _, directive := range []string{"include", "confdir"} {
		t.Run(directive, func(t *testing.T) {
			wantError(t, "port 1\n"+directive+" /etc/ntpbox.d", 2, directive, "include not available here")
		})
	}
}

func TestSeedDocumentConfig(t *testing.T) {
	text := "server 0.centos.pool.ntp.org iburst\nserver 1.centos.pool.ntp.org iburst\nallow 10.0.0.0/8\nlocal stratum 3\n"
	cfg, warnings := mustParse(t, text)
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[1].Host != "1.centos.pool.ntp.org" || !cfg.Sources[1].IBurst {
		t.Errorf("Sources = %+v", cfg.Sources)
	}
	if len(cfg.Access) != 1 || cfg.Access[0].Prefix.String() != "10.0.0.0/8" || !cfg.Access[0].Allow {
		t.Errorf("Access = %+v", cfg.Access)
	}
	if cfg.Local == nil || cfg.Local.Stratum != 3 {
		t.Errorf("Local = %+v", cfg.Local)
	}
}

// A file saved by Windows' Notepad starts with a byte order mark, and its
// lines end in CR LF: both parse as if they were not there.
func TestBOMAndCRLF(t *testing.T) {
	cfg, warns, err := ParseBytes("ntpbox.conf", []byte("\ufeffserver 198.18.0.1 iburst\r\nallow all\r\n"))
	if err != nil || len(warns) != 0 || len(cfg.Sources) != 1 || cfg.Sources[0].Host != "198.18.0.1" || !cfg.Sources[0].IBurst {
		t.Fatalf("%+v %v %v", cfg, warns, err)
	}
	ps, err := ReadCmdline(strings.NewReader("\ufeffntpbox.address=198.18.0.2/24\r\n"))
	if err != nil || len(ps) != 1 || ps[0].Key != "ntpbox.address" {
		t.Fatalf("cmdline.txt with a BOM: %+v %v", ps, err)
	}
}
