package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

func ntpbox(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	c := exec.Command(ntpboxBin, args...)
	var o, e strings.Builder
	c.Stdout, c.Stderr = &o, &e
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		conf     string
		code     int
		contains []string
	}{
		{"the seed's server config", "server 0.centos.pool.ntp.org iburst\nserver 1.centos.pool.ntp.org iburst\nallow 10.0.0.0/8\nlocal stratum 3\n",
			0, []string{"OK (2 sources, 1 access rules, 0 warnings)"}},
		{"bad subnet names file line directive", "local stratum 3\nallow 10.0.0.0/33\n",
			1, []string{"bad.conf:2: allow:", "10.0.0.0/33", "invalid"}},
		{"unknown directive", "alow 10.0.0.0/8\n", 1, []string{":1: alow: unknown directive"}},
		{"bad stratum", "local stratum 16\n", 1, []string{":1: local:", "16"}},
		{"unimplemented chrony directive warns", "log measurements\nallow\n",
			0, []string{"warning:", ":1: log: not implemented by ntpbox", "1 warnings"}},
		{"every error reported", "port x\nratelimit burst 0\n", 1, []string{":1: port:", ":2: ratelimit:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, "bad.conf", tc.conf)
			out, errOut, code := ntpbox(t, "check", "-f", f)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.contains {
				if !strings.Contains(out+errOut, s) {
					t.Errorf("output lacks %q:\n%s%s", s, out, errOut)
				}
			}
		})
	}
	if _, errOut, code := ntpbox(t, "check", "-f", dir+"/missing.conf"); code != 1 || !strings.Contains(errOut, "missing.conf") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	f := writeFile(t, t.TempDir(), "ntpbox.conf", "allow\nlocal stratum 3 orphan x\n")
	_, errOut, code := ntpbox(t, "serve", "-x", "-f", f)
	if code != 1 || !strings.Contains(errOut, "ntpbox.conf:2: local:") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}

// TestFailClosed (issue 11): a config that asks for authenticated time,
// which ntpbox does not build, is refused by check and by serve, naming
// the line: ntpbox never polls or serves without the authentication
// that was asked for.
func TestFailClosed(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, conf, want string }{
		{"nts source", "allow\nserver time.cloudflare.com iburst nts\n", "auth.conf:2: server: option \"nts\": authentication (symmetric keys, NTS) is not built into ntpbox"},
		{"key source", "server ntp1 iburst key 5\n", "auth.conf:1: server: option \"key\": authentication"},
		{"keyfile naming a missing file", "allow\nlocal stratum 3\nkeyfile " + dir + "/missing.keys\n", "auth.conf:3: keyfile: authentication (symmetric keys, NTS) is not built into ntpbox"},
		{"ntsserverkey", "ntsserverkey /etc/ssl/box.key\n", "auth.conf:1: ntsserverkey: authentication"},
		{"ntsservercert", "ntsservercert /etc/ssl/box.crt\n", "auth.conf:1: ntsservercert: authentication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, "auth.conf", tc.conf)
			for _, argv := range [][]string{{"check", f}, {"serve", "-x", "-f", f}} {
				out, errOut, code := ntpbox(t, argv...)
				if code != 1 || !strings.Contains(errOut, tc.want) {
					t.Errorf("ntpbox %s: exit %d, want 1 and %q\n%s%s", argv[0], code, tc.want, out, errOut)
				}
			}
		})
	}
}

func TestQueryNoServer(t *testing.T) {
	_, errOut, code := ntpbox(t, "query", "-p", "9", "-t", "300ms", "127.0.0.1")
	if code != 1 || !strings.Contains(errOut, "127.0.0.1:9") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
	if _, _, code := ntpbox(t, "query"); code != 2 {
		t.Errorf("query without hosts: exit %d, want 2 (usage)", code)
	}
}

func TestFormatResult(t *testing.T) {
	r := &ntpserver.QueryResult{
		Server: "198.18.0.1:123",
		Header: wire.Packet{Version: 4, Stratum: 3, RefID: 0xC6120002},
		Offset: -1500 * time.Microsecond,
		Delay:  250 * time.Microsecond,
	}
	want := "server 198.18.0.1:123, stratum 3, refid 198.18.0.2, leap none, version 4, offset -0.001500 s, delay 0.000250 s"
	if got := formatResult(r); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// `ntpbox version` (and --version) prints one line naming the build.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		out, errOut, code := ntpbox(t, arg)
		if code != 0 || !strings.HasPrefix(out, "ntpbox ") || !strings.Contains(out, "commit ") ||
			!strings.Contains(out, "go1.") || strings.Count(out, "\n") != 1 {
			t.Errorf("ntpbox %s: exit %d, %q %q", arg, code, out, errOut)
		}
	}
	if _, _, code := ntpbox(t, "version", "extra"); code != 2 {
		t.Errorf("ntpbox version extra: exit %d, want 2", code)
	}
}

// Flags go before or after the arguments, `check FILE` checks FILE, -h
// and --help exit 0 for every command, and `log` follows with --follow
// (-f is the config file everywhere else, and log says so).
func TestCLIGuessable(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.conf", "server 198.18.0.1 iburst\nallow 198.18.0.0/24\n")
	bad := writeFile(t, dir, "bad.conf", "allow 198.18.0.0/33\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", good}, 0, "good.conf: OK"},
		{[]string{"check", bad}, 1, "bad.conf: invalid"},
		{[]string{"check", "-f", bad}, 1, "bad.conf: invalid"},
		{[]string{"check", good, bad}, 2, "one file at a time"},
		{[]string{"check", good, "-f", bad}, 2, "one file at a time"},
		{[]string{"config", good, "-f", good}, 2, "one file at a time"},
		{[]string{"config", "-f", good}, 0, "server 198.18.0.1 iburst"},
		{[]string{"query", "-t", "200ms", "127.0.0.1", "-p", "9"}, 1, "127.0.0.1"},
		{[]string{"sources", "-s", dir + "/none.sock", "-v"}, 1, "none.sock"},
		{[]string{"sources", "-v", "-s", dir + "/none.sock", "--json"}, 1, "none.sock"},
		{[]string{"log", "-s", dir + "/none.sock", "--follow"}, 1, "none.sock"},
		{[]string{"log", "-f"}, 2, "use --follow"},
		{[]string{"serve", "-x", "extra"}, 2, `unexpected argument "extra"`},
	} {
		out, errOut, code := ntpbox(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("ntpbox %q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	for _, cmd := range []string{"serve", "check", "config", "query", "sources", "sourcestats", "tracking", "clients", "activity", "serverstats", "ntpdata", "makestep", "burst", "log", "dhcp-snippet", "version"} {
		for _, h := range []string{"-h", "--help"} {
			if out, errOut, code := ntpbox(t, cmd, h); code != 0 {
				t.Errorf("ntpbox %s %s: exit %d\n%s%s", cmd, h, code, out, errOut)
			}
		}
	}
	for _, h := range []string{"-h", "--help", "help"} {
		if out, _, code := ntpbox(t, h); code != 0 || !strings.Contains(out, "usage: ntpbox") {
			t.Errorf("ntpbox %s: exit %d:\n%s", h, code, out)
		}
	}
}
