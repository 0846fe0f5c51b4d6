package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// chronyc runs Debian's chronyc in ns against the command port at host,
// numeric (-n), with a short timeout so that a refused host fails fast.
func chronyc(ns *netns, host string, args ...string) (string, error) {
	argv := append([]string{"-h", host, "-n", "-m", "timeout 300", "retries 1"}, strings.Join(args, " "))
	return ns.output(10*time.Second, "chronyc", argv...)
}

// ntpboxStatus runs `ntpbox CMD -s SOCK ARGS...` in ns.
func ntpboxStatus(t *testing.T, ns *netns, sock, cmd string, args ...string) string {
	t.Helper()
	out, err := ns.output(10*time.Second, ntpboxBin, append([]string{cmd, "-s", sock}, args...)...)
	if err != nil {
		t.Fatalf("ntpbox %s: %v\n%s", cmd, err, out)
	}
	return out
}

// labelled returns the value of a "Label : value" line.
func labelled(out, label string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == label {
			return strings.TrimSpace(v)
		}
	}
	return "<no " + label + ">"
}

// rows are the lines after the ==== rule of a chronyc table.
func rows(out string) []string {
	_, body, ok := strings.Cut(out, "=\n")
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimRight(body, "\n"), "\n")
}

// head is everything up to and including the ==== rule: legend and title.
func head(out string) string {
	i := strings.Index(out, "=\n")
	if i < 0 {
		return out
	}
	return out[:i+2]
}

// TestChronycAgainstNtpbox: Debian's chronyc -h reads a running ntpbox
// serve -x (synchronised to a chronyd on loopback) over the command
// port, and agrees with ntpbox's own commands; state-changing commands
// are refused; a host outside cmdallow gets nothing until a reload lets
// it in.
func TestChronycAgainstNtpbox(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "chronyc")
	ns := newNetns(t)
	// A LAN: the box's namespace has 198.18.0.1 and 198.18.0.6 on lan0,
	// a client's 198.18.0.10 on the other end, so that chronyc can come
	// from an address other than localhost (which chronyd always lets
	// in), and ask the box's second address.
	cl := newNetns(t)
	run(t, "ip", "-n", ns.name, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1", "netns", cl.name)
	run(t, "ip", "-n", ns.name, "addr", "add", "198.18.0.1/24", "dev", "lan0")
	run(t, "ip", "-n", ns.name, "addr", "add", "198.18.0.6/24", "dev", "lan0")
	run(t, "ip", "-n", ns.name, "link", "set", "lan0", "up")
	run(t, "ip", "-n", cl.name, "addr", "add", "198.18.0.10/24", "dev", "lan1")
	run(t, "ip", "-n", cl.name, "link", "set", "lan1", "up")
	startChronydServer(t, ns, "127.0.0.11")

	dir := t.TempDir()
	sock := filepath.Join(dir, "ntpbox.sock")
	conf := func(cmdallow string) string {
		// nowhere.invalid never resolves: a source with an unknown address.
		return fmt.Sprintf("server 127.0.0.11 iburst minpoll 1 maxpoll 1\nserver nowhere.invalid\nallow all\nbindaddress 127.0.0.1\nlocal stratum 10\nbindcmdaddress %s\ncmdallow %s\n", sock, cmdallow)
	}
	f := writeFile(t, dir, "ntpbox.conf", conf("10.0.0.0/8"))
	ns.start(ntpboxBin, "serve", "-x", "-f", f)
	waitFor(t, "ntpbox to select the chronyd upstream", 30*time.Second, func() bool {
		out, _ := ns.output(5*time.Second, ntpboxBin, "sources", "-s", sock)
		return strings.Contains(out, "^* 127.0.0.11")
	})
	for range 3 {
		if out, err := ns.output(5*time.Second, ntpboxBin, "query", "127.0.0.1"); err != nil {
			t.Fatalf("ntpbox query: %v\n%s", err, out)
		}
	}

	get := func(args ...string) string {
		t.Helper()
		out, err := chronyc(ns, "127.0.0.1", args...)
		if err != nil {
			t.Fatalf("chronyc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	t.Run("tracking", func(t *testing.T) {
		c, n := get("tracking"), ntpboxStatus(t, ns, sock, "tracking")
		t.Logf("chronyc tracking:\n%s", c)
		for _, label := range []string{"Reference ID", "Stratum", "Leap status", "Update interval"} {
			if labelled(c, label) != labelled(n, label) {
				t.Errorf("%s: chronyc %q, ntpbox %q", label, labelled(c, label), labelled(n, label))
			}
		}
		if labelled(c, "Reference ID") != "7F00000B (127.0.0.11)" || labelled(c, "Stratum") != "3" {
			t.Errorf("chronyc tracking: want stratum 3 from 127.0.0.11:\n%s", c)
		}
		// The port listens on ::1 too, as chronyd's.
		if c6, err := chronyc(ns, "::1", "tracking"); err != nil || labelled(c6, "Stratum") != "3" {
			t.Errorf("chronyc -h ::1 tracking: %v\n%s", err, c6)
		}
	})

	// A row of sources agrees from its start to the Reach column, and
	// Reach is between ntpbox's before and after (it may grow meanwhile).
	sourceRow := regexp.MustCompile(`^(\S\S \S+\s+\d+\s+\d+)\s+(\d+)`)
	t.Run("sources -v", func(t *testing.T) {
		before := ntpboxStatus(t, ns, sock, "sources", "-v")
		c := get("sources", "-v")
		after := ntpboxStatus(t, ns, sock, "sources", "-v")
		t.Logf("chronyc sources -v:\n%s", c)
		if head(c) != head(before) {
			t.Errorf("legend and title differ:\nchronyc:\n%s\nntpbox:\n%s", head(c), head(before))
		}
		cr, br, ar := rows(c), rows(before), rows(after)
		if len(cr) != 1 || len(br) != 1 || len(ar) != 1 {
			t.Fatalf("rows: chronyc %q, ntpbox %q", cr, br)
		}
		cm, bm, am := sourceRow.FindStringSubmatch(cr[0]), sourceRow.FindStringSubmatch(br[0]), sourceRow.FindStringSubmatch(ar[0])
		if cm == nil || bm == nil || am == nil || cm[1] != bm[1] || cm[1] != am[1] || !inOrder(bm[2], cm[2], am[2]) {
			t.Errorf("chronyc row %q, ntpbox rows %q and %q", cr[0], br[0], ar[0])
		}
		if !strings.HasPrefix(cr[0], "^* 127.0.0.11 ") {
			t.Errorf("chronyc row %q, want ^* 127.0.0.11", cr[0])
		}
	})

	t.Run("sourcestats -v", func(t *testing.T) {
		before := ntpboxStatus(t, ns, sock, "sourcestats", "-v")
		c := get("sourcestats", "-v")
		after := ntpboxStatus(t, ns, sock, "sourcestats", "-v")
		t.Logf("chronyc sourcestats -v:\n%s", c)
		if head(c) != head(before) {
			t.Errorf("legend and title differ:\nchronyc:\n%s\nntpbox:\n%s", head(c), head(before))
		}
		name := func(rows []string) string {
			if len(rows) != 1 || len(rows[0]) < 26 {
				return fmt.Sprintf("%q", rows)
			}
			return rows[0][:26]
		}
		np := func(rows []string) string {
			if f := strings.Fields(strings.Join(rows, " ")); len(f) > 1 {
				return f[1]
			}
			return ""
		}
		if name(rows(c)) != name(rows(before)) || !inOrder(np(rows(before)), np(rows(c)), np(rows(after))) {
			t.Errorf("chronyc %q, ntpbox %q then %q", rows(c), rows(before), rows(after))
		}
	})

	t.Run("activity", func(t *testing.T) {
		// iburst is chrony's burst mode: the source counts as doing a
		// burst until 4 good samples came (8 s at poll 1), then online.
		burst := "200 OK\n0 sources online\n0 sources offline\n1 sources doing burst (return to online)\n" +
			"0 sources doing burst (return to offline)\n1 sources with unknown address\n"
		want := "200 OK\n1 sources online\n0 sources offline\n0 sources doing burst (return to online)\n" +
			"0 sources doing burst (return to offline)\n1 sources with unknown address\n"
		var c string
		waitFor(t, "the iburst to end", 20*time.Second, func() bool {
			c = get("activity")
			if c != want && c != burst {
				t.Fatalf("chronyc activity:\n%s\nwant:\n%s", c, want)
			}
			return c == want
		})
	})

	t.Run("clients", func(t *testing.T) {
		c, n := get("clients"), ntpboxStatus(t, ns, sock, "clients")
		t.Logf("chronyc clients:\n%s", c)
		if head(c) != head(n) {
			t.Errorf("titles differ:\n%s\n%s", head(c), head(n))
		}
		cols := func(rows []string) string { // Hostname, NTP, Drop, Int
			var out []string
			for _, r := range rows {
				out = append(out, strings.Join(strings.Fields(r)[:4], " "))
			}
			return strings.Join(out, "; ")
		}
		if cols(rows(c)) != cols(rows(n)) || !strings.HasPrefix(cols(rows(c)), "127.0.0.1 3 0") {
			t.Errorf("chronyc clients %q, ntpbox %q, want 127.0.0.1 with 3 requests", cols(rows(c)), cols(rows(n)))
		}
	})

	t.Run("serverstats", func(t *testing.T) {
		c := get("serverstats")
		t.Logf("chronyc serverstats:\n%s", c)
		if labelled(c, "NTP packets received") != "3" || labelled(c, "NTP packets dropped") != "0" || labelled(c, "Command packets received") == "0" {
			t.Errorf("chronyc serverstats: want 3 NTP packets, none dropped, some commands:\n%s", c)
		}
	})

	t.Run("ntpdata", func(t *testing.T) {
		c := get("ntpdata")
		t.Logf("chronyc ntpdata:\n%s", c)
		for label, want := range map[string]string{
			"Remote address": "127.0.0.11 (7F00000B)", "Remote port": "123", "Local address": "127.0.0.1 (7F000001)",
			"Leap status": "Normal", "Version": "4", "Mode": "Server", "Stratum": "2", "NTP tests": "111 111 1111",
			"Reference ID": "7F7F0101 ()", // chronyd's local reference
		} {
			if got := labelled(c, label); got != want {
				t.Errorf("%s: %q, want %q", label, got, want)
			}
		}
		if labelled(c, "Total valid RX") == "0" || labelled(c, "Total TX") == "0" {
			t.Errorf("no traffic counted:\n%s", c)
		}
	})

	t.Run("rtcdata", func(t *testing.T) {
		// As chronyd without an RTC file: chronyc says so and fails.
		c, err := chronyc(ns, "127.0.0.1", "rtcdata")
		if err == nil || c != "513 RTC driver not running\n" {
			t.Errorf("chronyc rtcdata: %v\n%s", err, c)
		}
	})

	// ntpbox -h reads the same command port and prints what chronyc -h
	// prints (the values that can move between two reads aside).
	t.Run("ntpbox -h", func(t *testing.T) {
		for _, cmd := range []string{"tracking", "activity", "serverstats", "ntpdata", "clients", "sources"} {
			n, err := ns.output(30*time.Second, ntpboxBin, "-h", "127.0.0.1", cmd)
			if err != nil {
				t.Fatalf("ntpbox -h 127.0.0.1 %s: %v\n%s", cmd, err, n)
			}
			c := get(cmd)
			switch cmd {
			case "activity":
				if n != c {
					t.Errorf("activity: ntpbox -h\n%s\nchronyc -h\n%s", n, c)
				}
			case "sources", "clients":
				if head(n) != head(c) || len(rows(n)) != len(rows(c)) || strings.Fields(rows(n)[0])[0] != strings.Fields(rows(c)[0])[0] {
					t.Errorf("%s: ntpbox -h\n%s\nchronyc -h\n%s", cmd, n, c)
				}
			default:
				if labels(n) != labels(c) || labelled(n, "Stratum") != labelled(c, "Stratum") ||
					labelled(n, "Reference ID") != labelled(c, "Reference ID") || shape(n) != shape(c) {
					t.Errorf("%s: ntpbox -h\n%s\nchronyc -h\n%s", cmd, n, c)
				}
			}
		}
		if out, err := ns.output(30*time.Second, ntpboxBin, "-h", "127.0.0.1", "makestep"); err == nil || !strings.Contains(out, "501 Not authorised") {
			t.Errorf("ntpbox -h makestep: %v\n%s", err, out)
		}
	})

	// The clock's history (the status page's) over the control socket:
	// a point per update since the start, synchronised after the first.
	t.Run("history", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var h []upstream.HistoryPoint
		waitFor(t, "three history points (an update every 2 s)", 15*time.Second, func() bool {
			var err error
			if h, err = control.History(ctx, sock); err != nil {
				t.Fatal(err)
			}
			return len(h) >= 3
		})
		for i := 1; i < len(h); i++ {
			if h[i].Time.Before(h[i-1].Time) {
				t.Errorf("history out of order: %v after %v", h[i].Time, h[i-1].Time)
			}
		}
		last := h[len(h)-1]
		if !last.Synchronised || last.RootDistance <= 0 || last.RootDistance > time.Second || time.Since(last.Time) > time.Minute {
			t.Errorf("last point %+v: want synchronised, a root distance, recent", last)
		}
	})

	t.Run("state changes refused", func(t *testing.T) {
		for _, cmd := range []string{"makestep", "burst 4/4", "reload sources", "cmdallow all", "settime 12:00:00", "shutdown"} {
			c, err := chronyc(ns, "127.0.0.1", cmd)
			if err == nil || c != "501 Not authorised\n" {
				t.Errorf("chronyc %s: %v\n%s", cmd, err, c)
			}
		}
	})

	t.Run("outside cmdallow", func(t *testing.T) {
		// From 198.18.0.10, not in cmdallow 10.0.0.0/8: no reply at all.
		c, err := chronyc(cl, "198.18.0.1", "tracking")
		if err == nil || !strings.Contains(c, "506 Cannot talk to daemon") {
			t.Errorf("chronyc from outside cmdallow: %v\n%s", err, c)
		}
		// cmdallow connected lets the LAN in, after a reload.
		writeFile(t, dir, "ntpbox.conf", conf("connected"))
		ntpboxStatus(t, ns, sock, "reload")
		waitFor(t, "chronyc from the connected LAN to get tracking after the reload", 10*time.Second, func() bool {
			c, err = chronyc(cl, "198.18.0.1", "tracking")
			return err == nil && labelled(c, "Stratum") == "3"
		})
		// The reply to the box's second address comes from it: chronyc's
		// socket, connected to 198.18.0.6, would drop one from .1.
		if c, err := chronyc(cl, "198.18.0.6", "tracking"); err != nil || labelled(c, "Stratum") != "3" {
			t.Errorf("chronyc -h 198.18.0.6 (the box's second address): %v\n%s", err, c)
		}
	})
	// makestep and burst act over the control socket only: under -x
	// makestep refuses and says why; burst starts at once.
	t.Run("makestep and burst", func(t *testing.T) {
		out, err := ns.output(10*time.Second, ntpboxBin, "makestep", "-s", sock)
		if err == nil || !strings.Contains(out, "makestep refused: the daemon does not control the system clock (it runs with -x)") {
			t.Errorf("ntpbox makestep under -x: %v\n%s", err, out)
		}
		if out := ntpboxStatus(t, ns, sock, "burst", "4/8", "127.0.0.11"); out != "200 OK\n1 sources doing burst\n" {
			t.Errorf("ntpbox burst 4/8 127.0.0.11:\n%s", out)
		}
		if c := get("activity"); !strings.Contains(c, "\n1 sources doing burst (return to online)\n") {
			t.Errorf("chronyc activity after ntpbox burst:\n%s", c)
		}
		out, err = ns.output(10*time.Second, ntpboxBin, "burst", "1/2", "198.18.9.0/24", "-s", sock)
		if err == nil || !strings.Contains(out, "no such source") {
			t.Errorf("ntpbox burst of no source: %v\n%s", err, out)
		}
	})
}

// inOrder reports whether the numbers a <= b <= c (octal or decimal
// alike, as they have the same width).
func inOrder(a, b, c string) bool {
	n := func(s string) int {
		v := 0
		fmt.Sscan(s, &v)
		return v
	}
	return n(a) <= n(b) && n(b) <= n(c)
}
