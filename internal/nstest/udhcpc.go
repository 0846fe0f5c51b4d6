//go:build linux

package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClientEvent is one call of udhcpc's script.
type ClientEvent struct {
	At                        time.Time
	Event                     string // deconfig, bound, renew, nak, leasefail
	IP, ServerID, Router, DNS string
	LeaseSeconds              int
}

// Udhcpc is busybox udhcpc running as a daemon in a namespace, as a DHCP
// client of a LAN does: its script configures the address (so that
// renewals, unicast, work) and logs every event.
type Udhcpc struct {
	Name string
	log  string
}

// StartUdhcpc runs udhcpc on eth0 of namespace ns until the test ends:
// 5 DISCOVERs 2 s apart, a 3 s pause after a failure, forever.
func StartUdhcpc(t testing.TB, ns, name string) *Udhcpc {
	t.Helper()
	dir := t.TempDir()
	c := &Udhcpc{Name: name, log: filepath.Join(dir, "events")}
	script := filepath.Join(dir, "script")
	err := os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
echo "$(date +%%s.%%N) $1 ip=$ip serverid=$serverid router=$router dns=$dns lease=$lease" >> %s
case "$1" in
deconfig) ip addr flush dev "$interface" ;;
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
esac
exit 0
`, c.log)), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-t", "5", "-T", "2", "-A", "3", "-s", script)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start udhcpc in %s: %v", ns, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// Events returns the script's calls so far.
func (c *Udhcpc) Events(t testing.TB) []ClientEvent {
	t.Helper()
	b, err := os.ReadFile(c.log)
	if err != nil {
		return nil
	}
	var out []ClientEvent
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		sec, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("%s: event line %q", c.Name, line)
		}
		e := ClientEvent{At: time.Unix(0, int64(sec*1e9)), Event: f[1]}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "ip":
				e.IP = v
			case "serverid":
				e.ServerID = v
			case "router":
				e.Router = v
			case "dns":
				e.DNS = v
			case "lease":
				e.LeaseSeconds, _ = strconv.Atoi(v)
			}
		}
		out = append(out, e)
	}
	return out
}

// Holder is the server of the lease the client holds now, since when, and
// the event that gave it; "" when it holds none.
func (c *Udhcpc) Holder(t testing.TB) (server string, since time.Time, last ClientEvent) {
	for _, e := range c.Events(t) {
		switch e.Event {
		case "bound", "renew":
			if e.ServerID != server {
				since = e.At
			}
			server, last = e.ServerID, e
		case "deconfig", "nak", "leasefail":
			server = ""
		}
	}
	return server, since, last
}

// BoxLeaseEnded is when the client's lease from box ended after from:
// its first lease from another server, or the NAK or deconfig that ended
// it; zero when it has not.
func (c *Udhcpc) BoxLeaseEnded(t testing.TB, box string, from time.Time) time.Time {
	for _, e := range c.Events(t) {
		if e.At.Before(from) {
			continue
		}
		if e.ServerID != box && (e.Event == "bound" || e.Event == "renew") || e.Event == "nak" || e.Event == "deconfig" {
			return e.At
		}
	}
	return time.Time{}
}
