package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAccessGood(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name string
		line string
		want AccessRule // Origin is filled in
	}{
		{"allow alone", "allow", AccessRule{Allow: true, Any: true}},
		{"deny alone", "deny", AccessRule{Any: true}},
		{"allow all alone", "allow all", AccessRule{Allow: true, All: true, Any: true}},
		{"deny all alone", "deny all", AccessRule{All: true, Any: true}},
		{"IPv4 host", "allow 1.2.3.4", AccessRule{Allow: true, Prefix: pfx("1.2.3.4/32")}},
		{"IPv4 subnet", "allow 3.4.5.0/24", AccessRule{Allow: true, Prefix: pfx("3.4.5.0/24")}},
		{"host bits masked", "allow 3.4.5.6/24", AccessRule{Allow: true, Prefix: pfx("3.4.5.0/24")}},
		{"short three numbers", "allow 3.4.5", AccessRule{Allow: true, Prefix: pfx("3.4.5.0/24")}},
		{"short two numbers", "allow 192.168", AccessRule{Allow: true, Prefix: pfx("192.168.0.0/16")}},
		{"short one number", "allow 10", AccessRule{Allow: true, Prefix: pfx("10.0.0.0/8")}},
		{"short with length", "deny 10/12", AccessRule{Prefix: pfx("10.0.0.0/12")}},
		{"all IPv4", "allow 0/0", AccessRule{Allow: true, Prefix: pfx("0.0.0.0/0")}},
		{"all IPv6", "allow ::/0", AccessRule{Allow: true, Prefix: pfx("::/0")}},
		{"IPv6 subnet", "allow 2001:db8::/32", AccessRule{Allow: true, Prefix: pfx("2001:db8::/32")}},
		{"IPv6 host", "deny 2001:db8::1", AccessRule{Prefix: pfx("2001:db8::1/128")}},
		{"IPv4-mapped kept as IPv6", "allow ::ffff:1.2.3.4", AccessRule{Allow: true, Prefix: pfx("::ffff:1.2.3.4/128")}},
		{"all with subnet", "deny all 1.2.0.0/16", AccessRule{All: true, Prefix: pfx("1.2.0.0/16")}},
		{"upper case", "ALLOW ALL 1.2.0.0/16", AccessRule{Allow: true, All: true, Prefix: pfx("1.2.0.0/16")}},
		{"leading zeros in short form", "allow 010.001", AccessRule{Allow: true, Prefix: pfx("10.1.0.0/16")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, tt.line)
			if len(warnings) != 0 {
				t.Errorf("warnings: %v", warnings)
			}
			if len(cfg.Access) != 1 {
				t.Fatalf("got %d rules, want 1", len(cfg.Access))
			}
			want := tt.want
			want.Origin = Origin{Layer: LayerFile, File: testFile, Line: 1}
			if cfg.Access[0] != want {
				t.Errorf("got %+v, want %+v", cfg.Access[0], want)
			}
		})
	}
}

func TestAccessBad(t *testing.T) {
	const expected = `expected an address, a subnet or "all"`
	tests := []struct {
		name     string
		line     string
		contains []string
	}{
		{"IPv4 length too long", "allow 10.0.0.0/33", []string{expected, `got "10.0.0.0/33"`, "0..32"}},
		{"IPv6 length too long", "deny 2001:db8::/129", []string{expected, "0..128"}},
		{"short form length too long", "allow 10/33", []string{expected, "0..32"}},
		{"empty length", "allow 1.2.3.4/", []string{expected, "prefix length"}},
		{"negative length", "allow 10.0.0.0/-1", []string{expected}},
		{"no address", "allow /24", []string{expected}},
		{"number too big", "allow 256", []string{expected, `got "256"`}},
		{"short form too big", "allow 10.300", []string{expected}},
		{"five numbers", "allow 1.2.3.4.5", []string{expected}},
		{"host name", "allow ntp.example.com", []string{expected, "host names are not resolved"}},
		{"garbage", "deny ***", []string{expected, `got "***"`}},
		{"zone", "allow fe80::1%eth0", []string{expected, "zone"}},
		{"two subnets", "allow 1.2.3.4 5.6.7.8", []string{"at most one address or subnet", `extra argument "5.6.7.8"`}},
		{"all twice", "allow all all", []string{expected, `got "all"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			directive := "allow"
			if tt.line[0] == 'd' {
				directive = "deny"
			}
			wantError(t, "# access\n"+tt.line, 2, directive, tt.contains...)
		})
	}
}

func TestAccessOrder(t *testing.T) {
	cfg, _ := mustParse(t, "allow 1.2.3.4\ndeny 1.2.3.0/24\n\nallow all 1.2.0.0/16\n")
	want := []struct {
		line  int
		allow bool
		all   bool
	}{{1, true, false}, {2, false, false}, {4, true, true}}
	if len(cfg.Access) != len(want) {
		t.Fatalf("got %d rules, want %d", len(cfg.Access), len(want))
	}
	for i, w := range want {
		r := cfg.Access[i]
		if r.Origin.Line != w.line || r.Allow != w.allow || r.All != w.all {
			t.Errorf("rule %d: got %+v, want line %d allow %v all %v", i, r, w.line, w.allow, w.all)
		}
	}
}

// TestCmdAccess: cmdallow and cmddeny take allow's syntax, go to their
// own list (the command port's, not the NTP server's), and render back.
func TestCmdAccess(t *testing.T) {
	pfx := netip.MustParsePrefix
	cfg, warnings := mustParse(t, "cmdallow 10/8\ncmddeny 10.1.0.0/16\ncmdallow all\ncmdallow connected\nallow 192.168\n")
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	o := func(line int) Origin { return Origin{Layer: LayerFile, File: testFile, Line: line} }
	want := []AccessRule{
		{Origin: o(1), Allow: true, Prefix: pfx("10.0.0.0/8")},
		{Origin: o(2), Prefix: pfx("10.1.0.0/16")},
		{Origin: o(3), Allow: true, All: true, Any: true},
		{Origin: o(4), Allow: true, Connected: true},
	}
	if len(cfg.CmdAccess) != len(want) {
		t.Fatalf("CmdAccess = %+v, want %+v", cfg.CmdAccess, want)
	}
	for i := range want {
		if cfg.CmdAccess[i] != want[i] {
			t.Errorf("CmdAccess[%d] = %+v, want %+v", i, cfg.CmdAccess[i], want[i])
		}
	}
	if len(cfg.Access) != 1 || cfg.Access[0].Prefix != pfx("192.168.0.0/16") {
		t.Errorf("Access = %+v, want only allow 192.168.0.0/16", cfg.Access)
	}
	wantError(t, "# cmd\ncmdallow ntp.example.com", 2, "cmdallow", "host names are not resolved")

	var b strings.Builder
	if err := cfg.Render(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"cmdallow 10.0.0.0/8 ", "cmddeny 10.1.0.0/16 ", "cmdallow all ", "cmdallow connected "} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("render lacks %q:\n%s", line, b.String())
		}
	}
	if !strings.Contains(b.String(), "cmddeny 10.1.0.0/16                     # test.conf:2") {
		t.Errorf("render lacks cmddeny with its origin:\n%s", b.String())
	}
}
