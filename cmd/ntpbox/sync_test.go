package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sourceLine matches a line of `ntpbox sources`: mode/state, name, stratum.
var sourceLine = regexp.MustCompile(`(?m)^\^(.) (\S+)\s+(\d+)\s`)

func sourcesTable(t *testing.T, ns *netns, sock string) (string, map[string]string) {
	t.Helper()
	out, _ := ns.output(5*time.Second, ntpboxBin, "sources", "-s", sock)
	states := map[string]string{}
	for _, m := range sourceLine.FindAllStringSubmatch(out, -1) {
		states[m[2]] = m[1]
	}
	return out, states
}

// TestSyncFollowsRealChronydUpstreams: ntpbox -x polls three chronyd
// stratum-2 servers, selects one, serves stratum 3 with its refid to real
// clients, notices a dead upstream, and falls back to `local` when all
// are gone.
func TestSyncFollowsRealChronydUpstreams(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "ntpdig")
	ns := newNetns(t)
	upstreams := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	procs := map[string]func(){}
	for _, a := range upstreams {
		c := startChronydServerCmd(t, ns, a)
		procs[a] = func() { c.Process.Kill() }
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "ntpbox.sock")
	var conf strings.Builder
	for _, a := range upstreams {
		fmt.Fprintf(&conf, "server %s iburst minpoll 1 maxpoll 1\n", a)
	}
	fmt.Fprintf(&conf, "allow all\nbindaddress 127.0.0.1\nlocal stratum 10\nbindcmdaddress %s\ndriftfile %s/drift\n", sock, dir)
	f := writeFile(t, dir, "ntpbox.conf", conf.String())
	ns.start(ntpboxBin, "serve", "-x", "-f", f)

	var table, selected string
	waitFor(t, "a source marked ^* in ntpbox sources", 60*time.Second, func() bool {
		var states map[string]string
		table, states = sourcesTable(t, ns, sock)
		for name, st := range states {
			if st == "*" {
				selected = name
				return true
			}
		}
		return false
	})
	t.Logf("ntpbox sources:\n%s", table)

	// Real clients see stratum 3 and the selected upstream as refid.
	var q clientReport
	var refid string
	waitFor(t, "ntpbox to serve stratum 3", 30*time.Second, func() bool {
		q, refid = ntpboxQuery(t, ns, "127.0.0.1")
		return q.stratum == 3
	})
	if refid != selected {
		t.Errorf("served refid %s, selected source %s", refid, selected)
	}
	if r := ntpdigJ(t, ns, "127.0.0.1"); r.stratum != 3 || r.offset > saneOffset || r.offset < -saneOffset {
		t.Errorf("ntpdig: stratum %d offset %v", r.stratum, r.offset)
	}
	if off := chronydQ(t, ns, "127.0.0.1"); off > saneOffset || off < -saneOffset {
		t.Errorf("chronyd -Q offset %v", off)
	}

	// Kill the selected upstream: it is marked unreachable, another is selected.
	procs[selected]()
	// The dead source stays selectable while its last sample is not
	// older than the other sources' oldest (chrony's rule), which takes
	// 40-50 s at these polls on an idle machine: allow for a busy one.
	waitFor(t, selected+" marked ^? and another source selected", 2*time.Minute, func() bool {
		var states map[string]string
		table, states = sourcesTable(t, ns, sock)
		if states[selected] != "?" {
			return false
		}
		for _, st := range states {
			if st == "*" {
				return true
			}
		}
		return false
	})
	t.Logf("after killing %s:\n%s", selected, table)

	// Kill the rest: ntpbox falls back to `local stratum 10`.
	for _, a := range upstreams {
		if a != selected {
			procs[a]()
		}
	}
	waitFor(t, "fallback to local stratum 10", 90*time.Second, func() bool {
		q, refid = ntpboxQuery(t, ns, "127.0.0.1")
		return q.stratum == 10 && refid == "127.127.1.1"
	})
	table, _ = sourcesTable(t, ns, sock)
	t.Logf("all upstreams gone:\n%s", table)
	if _, err := os.Stat(filepath.Join(dir, "drift")); err != nil {
		t.Logf("drift file not yet written (written hourly and at exit): %v", err)
	}
}
