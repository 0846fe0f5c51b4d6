package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/control/cmdmon"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// boxProvider is statusProvider as a daemon reports it: every source
// with an address (the engine has none without), with NTP data; and the
// counters, makestep and burst.
type boxProvider struct {
	statusProvider
	steps  *[]string // makestep and burst calls, as text
	noStep bool      // makestep fails as under -x
}

func (p boxProvider) Sources() []upstream.SourceReport {
	s := p.statusProvider.Sources()
	s[1].Addr = netip.MustParseAddrPort("[2001:db8:1234:5678:9abc:def0:1234:5678]:123")
	s[0].LocalAddr = netip.MustParseAddr("192.0.2.50")
	s[0].ValidRx, s[0].GoodRx = 40, 38
	s[0].NTP = upstream.NTPData{Version: 4, Mode: 4, Stratum: 2, Poll: 6, Precision: -25,
		RootDelay: time.Millisecond, RootDispersion: 2 * time.Millisecond, RefID: 0xc0000202,
		RefTime: time.Date(2026, 12, 4, 9, 49, 17, 0, time.UTC), Offset: 924 * time.Microsecond,
		Delay: 250 * time.Microsecond, Dispersion: 30 * time.Microsecond, ResponseTime: 10 * time.Microsecond, TotalTx: 42}
	return s
}

func (boxProvider) Unresolved() int { return 1 }
func (boxProvider) ServerStats() control.ServerStats {
	return control.ServerStats{NTPHits: 1598, NTPDrops: 2, CmdHits: 7}
}

func (p boxProvider) MakeStep() (time.Duration, error) {
	if p.noStep {
		return 0, upstream.ErrNoClockControl
	}
	*p.steps = append(*p.steps, "makestep")
	return 500 * time.Millisecond, nil
}

func (p boxProvider) Burst(a control.BurstArgs) (int, error) {
	*p.steps = append(*p.steps, fmt.Sprintf("burst %d/%d %v %q", a.Good, a.Max, a.Prefix, a.Name))
	n := 0
	for _, s := range p.Sources() {
		if a.Match(s.Name, s.Addr.Addr()) {
			n++
		}
	}
	return n, nil
}

// startBox serves p on a control socket and on a command port on
// 127.0.0.1, until the test ends: the socket's path and the port.
func startFakeBox(t *testing.T, p boxProvider) (string, int) {
	t.Helper()
	sock := filepath.Join(socketTempDir(t), "ntpbox.sock")
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- control.Serve(ln, p, nil) }()
	conns, warns := cmdmon.Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")})
	if len(conns) != 1 {
		t.Fatalf("command port: %v", warns)
	}
	go func() { done <- cmdmon.NewServer(p, nil, nil).Serve(conns[0]) }()
	t.Cleanup(func() {
		ln.Close()
		conns[0].Close()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return sock, conns[0].LocalAddr().(*net.UDPAddr).Port
}

// runRemoteT runs `ntpbox ARGS` through main's -h path.
func runRemoteT(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = remote(args, &o, &e)
	return o.String(), e.String(), code
}

// `ntpbox -h BOX CMD` prints what `ntpbox CMD` prints on the box: the
// box's own command port, in process.
func TestRemotePrintsAsLocal(t *testing.T) {
	var steps []string
	sock, port := startFakeBox(t, boxProvider{steps: &steps})
	h := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}
	for _, args := range [][]string{
		{"tracking"}, {"sources"}, {"sources", "-v"}, {"sourcestats"}, {"sourcestats", "-v"},
		{"activity"}, {"clients"}, {"ntpdata"}, {"ntpdata", "192.0.2.1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			local, errOut, code := runStatusT(t, args[0], append(args[1:], "-s", sock)...)
			if code != 0 {
				t.Fatalf("local: exit %d: %s", code, errOut)
			}
			remote, errOut, code := runRemoteT(t, append(h, args...)...)
			if code != 0 {
				t.Fatalf("remote: exit %d: %s", code, errOut)
			}
			if remote != local {
				t.Errorf("over the command port:\n%s\nover the control socket:\n%s", remote, local)
			}
		})
	}
	// serverstats: the command port counts its own requests too.
	local, _, _ := runStatusT(t, "serverstats", "-s", sock)
	remote, errOut, code := runRemoteT(t, append(h, "serverstats")...)
	if code != 0 {
		t.Fatalf("remote serverstats: exit %d: %s", code, errOut)
	}
	drop := regexp.MustCompile(`(?m)^Command packets received.*\n`)
	if drop.ReplaceAllString(remote, "") != drop.ReplaceAllString(local, "") || remote == local {
		t.Errorf("serverstats over the command port:\n%s\nlocally:\n%s", remote, local)
	}
	// --json, through the same encoder.
	out, _, code := runRemoteT(t, append(h, "activity", "--json")...)
	var a control.ActivityReport
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || a.Online != 2 || a.Unresolved != 1 {
		t.Errorf("activity --json: exit %d, %v: %s", code, err, out)
	}
	// State changes: refused from the network, with chronyc's code and
	// what it means; nothing reached the provider.
	for _, args := range [][]string{{"makestep"}, {"burst", "4/8"}, {"burst", "1/2", "192.0.2.0/24"}} {
		_, errOut, code := runRemoteT(t, append(h, args...)...)
		if code != 1 || !strings.Contains(errOut, "501 Not authorised: the box refuses this command from the network") {
			t.Errorf("remote %v: exit %d: %s", args, code, errOut)
		}
	}
	if len(steps) != 0 {
		t.Errorf("the command port changed state: %q", steps)
	}
}

func TestRemoteFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: ntpbox COMMAND"},
		{[]string{"-h", "box", "--help"}, 0, "usage: ntpbox COMMAND"},
		{[]string{"-h", "box"}, 2, "which command?"},
		{[]string{"-p", "323", "tracking"}, 2, "go with -h HOST"},
		{[]string{"-h", "box", "-p", "x", "tracking"}, 2, "want a port"},
		{[]string{"-h", "box", "reload"}, 2, "reload is not asked over the network"},
		{[]string{"-h", "box", "tracking", "-s", "/x"}, 2, "flag provided but not defined: -s"},
		{[]string{"-h", "box", "clients", "extra"}, 2, "takes no arguments"},
		{[]string{"-h", "box", "burst", "9/4"}, 2, "GOOD ≤ MAX"},
		{[]string{"-h", "box", "tracking", "-h"}, 0, "usage: ntpbox -h box tracking [--json]"},
	} {
		out, errOut, code := runRemoteT(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("ntpbox %q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	// A closed port: chronyc's 506, after its retries.
	start := time.Now()
	_, errOut, code := runRemoteT(t, "-h", "127.0.0.1", "-p", "9", "tracking")
	if code != 1 || !strings.Contains(errOut, "506 Cannot talk to daemon") {
		t.Errorf("closed port: exit %d: %s", code, errOut)
	}
	t.Logf("closed port: %v: %s", time.Since(start), errOut)
}

// The local commands: activity, serverstats and ntpdata print as
// chronyc; makestep and burst act on the daemon over the control
// socket, and say why when they cannot.
func TestLocalReportsAndActions(t *testing.T) {
	var steps []string
	p := boxProvider{steps: &steps}
	sock, _ := startFakeBox(t, p)
	out, errOut, code := runStatusT(t, "activity", "-s", sock)
	want := "200 OK\n2 sources online\n0 sources offline\n0 sources doing burst (return to online)\n" +
		"0 sources doing burst (return to offline)\n1 sources with unknown address\n"
	if code != 0 || out != want {
		t.Errorf("activity: exit %d %s\n%s\nwant\n%s", code, errOut, out, want)
	}
	out, _, _ = runStatusT(t, "serverstats", "-s", sock)
	if !strings.HasPrefix(out, "NTP packets received       : 1598\nNTP packets dropped        : 2\nCommand packets received   : 7\n") ||
		!strings.HasSuffix(out, "NTP timestamp span         : 0\n") || strings.Count(out, "\n") != 11 {
		t.Errorf("serverstats:\n%s", out)
	}
	out, _, _ = runStatusT(t, "ntpdata", "-s", sock, "192.0.2.1")
	for _, line := range []string{
		"Remote address  : 192.0.2.1 (C0000201)\n", "Remote port     : 123\n", "Local address   : 192.0.2.50 (C0000232)\n",
		"Leap status     : Normal\n", "Mode            : Server\n", "Poll interval   : 6 (64 seconds)\n",
		"Precision       : -25 (0.000000030 seconds)\n", "Root delay      : 0.001000 seconds\n",
		"Reference ID    : C0000202 ()\n", "Reference time  : Fri Dec 04 09:49:17 2026\n",
		"Offset          : +0.000924000 seconds\n", "Jitter asymmetry: +0.00\n", "NTP tests       : 111 111 1111\n",
		"TX timestamping : Daemon\n", "RX timestamping : Kernel\n", "Total TX        : 42\n", "Total good RX   : 38\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("ntpdata lacks %q:\n%s", line, out)
		}
	}
	if strings.HasPrefix(out, "\n") {
		t.Errorf("ntpdata ADDRESS starts with an empty line, as chronyc only without an address")
	}
	if out, _, _ := runStatusT(t, "ntpdata", "-s", sock); strings.Count(out, "Remote address") != 2 || !strings.HasPrefix(out, "\nRemote") {
		t.Errorf("ntpdata of all:\n%s", out)
	}
	if _, errOut, code := runStatusT(t, "ntpdata", "-s", sock, "192.0.2.77"); code != 1 || !strings.Contains(errOut, "no source at 192.0.2.77") {
		t.Errorf("ntpdata of no source: exit %d: %s", code, errOut)
	}

	out, errOut, code = runStatusT(t, "makestep", "-s", sock)
	if code != 0 || out != "200 OK\nstepped the clock by +0.500000000 seconds\n" {
		t.Errorf("makestep: exit %d: %s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		out  string
		call string
	}{
		{[]string{"4/8"}, "200 OK\n2 sources doing burst\n", `burst 4/8 invalid Prefix ""`},
		{[]string{"1/2", "192.0.2.1"}, "200 OK\n1 sources doing burst\n", `burst 1/2 192.0.2.1/32 ""`},
		{[]string{"1/2", "255.255.255.0/192.0.2.9"}, "200 OK\n1 sources doing burst\n", `burst 1/2 192.0.2.0/24 ""`},
		{[]string{"0/3", "ntp1.example.net"}, "200 OK\n1 sources doing burst\n", `burst 0/3 invalid Prefix "ntp1.example.net"`},
	} {
		steps = nil
		out, errOut, code := runStatusT(t, "burst", append(tc.args, "-s", sock)...)
		if code != 0 || out != tc.out || len(steps) != 1 || steps[0] != tc.call {
			t.Errorf("burst %v: exit %d: %s%s; calls %q, want %q", tc.args, code, out, errOut, steps, tc.call)
		}
	}
	if _, errOut, code := runStatusT(t, "burst", "1/2", "198.18.0.0/16", "-s", sock); code != 1 || !strings.Contains(errOut, "no such source") {
		t.Errorf("burst of no source: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{}, {"4"}, {"4/2"}, {"1/2", "255.0.255.0/10.0.0.0"}, {"1/2", "a", "b"}} {
		if _, errOut, code := runStatusT(t, "burst", append(args, "-s", sock)...); code != 2 {
			t.Errorf("burst %q: exit %d, want 2: %s", args, code, errOut)
		}
	}

	// Under -x makestep is refused, and says why.
	sock2, _ := startFakeBox(t, boxProvider{steps: &steps, noStep: true})
	if _, errOut, code := runStatusT(t, "makestep", "-s", sock2); code != 1 || !strings.Contains(errOut, "makestep refused: the daemon does not control the system clock (it runs with -x)") {
		t.Errorf("makestep under -x: exit %d: %s", code, errOut)
	}
}

// socketTempDir is a short directory for a socket (108 bytes at most).
func socketTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
