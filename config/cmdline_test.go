package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitCmdline(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Param
	}{
		{"empty", "", nil},
		{"newline only", "\n", nil},
		{"flags and values", "quiet console=ttyS0 ntpbox.address=198.18.0.2/24\n", []Param{
			{Key: "quiet"}, {Key: "console", Value: "ttyS0", HasValue: true},
			{Key: "ntpbox.address", Value: "198.18.0.2/24", HasValue: true}}},
		{"empty value", "a= b", []Param{{Key: "a", HasValue: true}, {Key: "b"}}},
		{"second equals is in the value", "a=b=c", []Param{{Key: "a", Value: "b=c", HasValue: true}}},
		{"quoted value keeps spaces", `ntpbox.server="198.18.0.1 iburst" x`, []Param{
			{Key: "ntpbox.server", Value: "198.18.0.1 iburst", HasValue: true}, {Key: "x"}}},
		{"quoted parameter", `"a=b c" d`, []Param{{Key: "a", Value: "b c", HasValue: true}, {Key: "d"}}},
		{"tabs and repeated spaces", "a\t\tb   c", []Param{{Key: "a"}, {Key: "b"}, {Key: "c"}}},
		{"init arguments after --", "a -- b=c", []Param{{Key: "a"}}},
		{"unterminated quote runs to the end", `a="b c`, []Param{{Key: "a", Value: "b c", HasValue: true}}},
		{"leading equals is no split", "=x", []Param{{Key: "=x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitCmdline(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitCmdline(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadCmdlineTooLong(t *testing.T) {
	if _, err := ReadCmdline(strings.NewReader(strings.Repeat("a", maxCmdline+1))); err == nil {
		t.Error("no error for an oversized command line")
	}
	p, err := ReadCmdline(strings.NewReader("a b\n"))
	if err != nil || len(p) != 2 {
		t.Errorf("ReadCmdline = %v, %v", p, err)
	}
}

// FuzzCmdline: any command line splits without panicking, never returns
// init's -- separator as a parameter, its ntpbox.* parameters never put
// a control character into a config line, and merging them gives a
// config or errors, never a panic.
func FuzzCmdline(f *testing.F) {
	for _, s := range []string{
		"console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.allow=all ntpbox.local=stratum,3\n",
		`ntpbox.server="198.18.0.1 iburst" "ntpbox.allow=all" -- init args`,
		"ntpbox.gateway=198.18.0.1 ntpbox.nameserver=::1 ntpbox.interface=eth0 ntpbox.testkill",
		"ntpbox.=x ntpbox.a.b=c =d \"\" \"=\" ntpbox.x=\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params := SplitCmdline(s)
		for _, p := range params {
			if p.Key == "--" && !p.HasValue {
				t.Fatalf("%q: init's -- separator returned as a parameter", s)
			}
		}
		part, _ := CmdlinePart(LayerKernel, "kernel command line", params)
		for _, l := range part.Lines {
			for _, w := range l.Words {
				if strings.ContainsFunc(w, func(r rune) bool { return r < ' ' || r == 0x7f }) || w == "" {
					t.Fatalf("%q: config word %q", s, w)
				}
			}
		}
		cfg, _, err := Merge(nil, nil, ApplianceDefaults(""), part)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("%q: Merge returned %v and %v", s, cfg, err)
		}
	})
}
