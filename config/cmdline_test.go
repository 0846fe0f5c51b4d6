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
