package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRemoteAgainstChronyd: `ntpbox -h 127.0.0.1 -p PORT CMD` against a
// real chronyd (Debian's 4.3, -x, synchronised to another chronyd on
// loopback, in a namespace) prints what `chronyc -h` prints.
func TestRemoteAgainstChronyd(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "chronyc")
	ns := newNetns(t)
	startChronydServer(t, ns, "127.0.0.11")
	dir := t.TempDir()
	const port = "3230"
	conf := writeFile(t, dir, "chrony.conf", fmt.Sprintf(`server 127.0.0.11 iburst minpoll 1 maxpoll 1
port 0
cmdport %s
bindcmdaddress 127.0.0.1
bindcmdaddress /
cmdallow 127.0.0.1
pidfile %s/chronyd.pid
`, port, dir))
	ns.start("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)

	// chronycP runs chronyc -n (-N with names first in args) with one
	// command of args.
	chronycP := func(t *testing.T, args ...string) string {
		t.Helper()
		argv := []string{"-h", "127.0.0.1", "-p", port, "-n"}
		if args[0] == "-N" {
			argv, args = append(argv, "-N"), args[1:]
		}
		argv = append(argv, "-m", "timeout 500", strings.Join(args, " "))
		out, err := ns.output(10*time.Second, "chronyc", argv...)
		if err != nil {
			t.Fatalf("chronyc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	ntpboxH := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := ns.output(30*time.Second, ntpboxBin, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...)
		if err != nil {
			t.Fatalf("ntpbox -h 127.0.0.1 -p %s %s: %v\n%s", port, strings.Join(args, " "), err, out)
		}
		return out
	}
	waitFor(t, "chronyd to synchronise to 127.0.0.11 and end its iburst", 30*time.Second, func() bool {
		out, _ := ns.output(5*time.Second, "chronyc", "-h", "127.0.0.1", "-p", port, "-n", "-m", "tracking", "activity")
		return labelled(out, "Stratum") == "3" && strings.Contains(out, "\n1 sources online\n")
	})

	t.Run("tracking", func(t *testing.T) {
		c, n := chronycP(t, "tracking"), ntpboxH(t, "tracking")
		t.Logf("ntpbox -h tracking:\n%s", n)
		if labels(c) != labels(n) {
			t.Errorf("labels differ:\nchronyc:\n%s\nntpbox:\n%s", c, n)
		}
		for _, label := range []string{"Reference ID", "Stratum", "Leap status", "Update interval"} {
			if labelled(c, label) != labelled(n, label) {
				t.Errorf("%s: chronyc %q, ntpbox %q", label, labelled(c, label), labelled(n, label))
			}
		}
		if labelled(n, "Reference ID") != "7F00000B (127.0.0.11)" || labelled(n, "Stratum") != "3" {
			t.Errorf("want stratum 3 from 127.0.0.11:\n%s", n)
		}
		// Each value has chronyc's form (digits aside).
		if shape(c) != shape(n) {
			t.Errorf("value forms differ:\n%s\n%s", shape(c), shape(n))
		}
	})

	sourceRow := regexp.MustCompile(`^(\S\S \S+\s+\d+\s+\d+)\s+(\d+)`)
	t.Run("sources -v", func(t *testing.T) {
		c, n := chronycP(t, "-N", "sources", "-v"), ntpboxH(t, "sources", "-v")
		t.Logf("ntpbox -h sources -v:\n%s", n)
		if head(c) != head(n) {
			t.Errorf("legend and title differ:\n%s\n%s", head(c), head(n))
		}
		cr, nr := rows(c), rows(n)
		if len(cr) != 1 || len(nr) != 1 {
			t.Fatalf("rows: chronyc %q, ntpbox %q", cr, nr)
		}
		cm, nm := sourceRow.FindStringSubmatch(cr[0]), sourceRow.FindStringSubmatch(nr[0])
		if cm == nil || nm == nil || cm[1] != nm[1] || cm[2] != nm[2] {
			t.Errorf("chronyc row %q, ntpbox row %q", cr[0], nr[0])
		}
		if !strings.HasPrefix(nr[0], "^* 127.0.0.11 ") {
			t.Errorf("ntpbox row %q, want ^* 127.0.0.11", nr[0])
		}
	})

	t.Run("sourcestats", func(t *testing.T) {
		c, n := chronycP(t, "-N", "sourcestats"), ntpboxH(t, "sourcestats")
		t.Logf("ntpbox -h sourcestats:\n%s", n)
		if head(c) != head(n) || len(rows(n)) != 1 || !strings.HasPrefix(rows(n)[0], "127.0.0.11 ") {
			t.Errorf("chronyc:\n%s\nntpbox:\n%s", c, n)
		}
		if shape(c) != shape(n) {
			t.Errorf("row forms differ:\n%s\n%s", shape(c), shape(n))
		}
	})

	t.Run("activity", func(t *testing.T) {
		if c, n := chronycP(t, "activity"), ntpboxH(t, "activity"); c != n || !strings.Contains(n, "1 sources online") {
			t.Errorf("chronyc:\n%s\nntpbox:\n%s", c, n)
		}
	})

	// chronyd keeps these to its local socket: over UDP both say 501.
	t.Run("refused by chronyd over UDP", func(t *testing.T) {
		for _, cmd := range []string{"serverstats", "clients", "ntpdata", "makestep", "burst 1/2"} {
			c, _ := ns.output(10*time.Second, "chronyc", "-h", "127.0.0.1", "-p", port, "-n", cmd)
			n, err := ns.output(30*time.Second, ntpboxBin, append([]string{"-h", "127.0.0.1", "-p", port}, strings.Fields(cmd)...)...)
			if !strings.Contains(c, "501 Not authorised") {
				t.Errorf("chronyc %s: %s", cmd, c)
			}
			if err == nil || !strings.Contains(n, "501 Not authorised: the box refuses this command from the network") {
				t.Errorf("ntpbox -h %s: %v\n%s", cmd, err, n)
			}
		}
	})
}

// labels are the "Label :" parts of a report's lines, in order.
func labels(out string) string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if k, _, ok := strings.Cut(l, ":"); ok {
			ls = append(ls, strings.TrimSpace(k))
		}
	}
	return strings.Join(ls, "|")
}

// shape is out with every run of digits as '9', a sign as '±' and
// fast/slow as one word: the form of each value, not its value.
func shape(out string) string {
	out = regexp.MustCompile(`[0-9]+`).ReplaceAllString(out, "9")
	out = regexp.MustCompile(`[+-]9`).ReplaceAllString(out, "±9")
	out = regexp.MustCompile(`\b(fast|slow)\b`).ReplaceAllString(out, "fast|slow")
	out = regexp.MustCompile(` +`).ReplaceAllString(out, " ") // widths follow the values
	return regexp.MustCompile(`(9)(ns|us|ms|s)\b`).ReplaceAllString(out, "${1}unit")
}
