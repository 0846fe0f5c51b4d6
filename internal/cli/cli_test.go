package cli

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		verbose bool
		file    string
	}{
		{[]string{"a.conf"}, []string{"a.conf"}, false, ""},
		{[]string{"a.conf", "-v"}, []string{"a.conf"}, true, ""},
		{[]string{"-v", "a.conf", "-f", "x", "b"}, []string{"a.conf", "b"}, true, "x"},
		{[]string{"a", "--", "-v", "b"}, []string{"a", "-v", "b"}, false, ""},
		{[]string{"--", "-v"}, []string{"-v"}, false, ""},
		{[]string{"-f=y", "--v"}, nil, true, "y"},
		{nil, nil, false, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		v := fs.Bool("v", false, "")
		f := fs.String("f", "", "")
		pos, err := Parse(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || *v != tc.verbose || *f != tc.file {
			t.Errorf("%q: %q -v=%v -f=%q, %v; want %q %v %q", tc.args, pos, *v, *f, err, tc.pos, tc.verbose, tc.file)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := Parse(fs, []string{"a", "--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help after an argument: %v", err)
	}
	if _, err := Parse(fs, []string{"a", "-nope"}); err == nil {
		t.Error("an unknown flag after an argument: no error")
	}
}
