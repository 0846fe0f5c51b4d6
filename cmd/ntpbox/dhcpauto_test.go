package main

// `dhcp auto` on a box with a static address, against real clients
// (busybox udhcpc) and a real DHCP server (dnsmasq), each in its own
// namespace on one bridge: the power cut in which the box boots before
// the router, and a router that answers only the MACs it knows.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/internal/nstest"
)

const autoRouterAddr = "198.18.0.1" // the LAN's router and DHCP server (dnsmasq)

// autoBoxConf is the box's config: a static address, the router as its
// gateway and nameserver, `dhcp auto`, the state in dir.
func autoBoxConf(t *testing.T, dir string) string {
	return writeFile(t, dir, "box.conf", fmt.Sprintf(`local stratum 3
allow all
address %s/24
gateway %s
nameserver %s
dhcp auto
advertise %s
driftfile %s/drift
bindcmdaddress %s/ntpbox.sock
`, boxAddr, autoRouterAddr, autoRouterAddr, boxAddr, dir, dir))
}

// autoDnsmasq runs dnsmasq as the LAN's DHCP server at autoRouterAddr on
// eth0 of ns, with extra options, and waits until it listens. It is killed
// at cleanup.
func autoDnsmasq(t *testing.T, ns *netns, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	ns.start("dnsmasq", append([]string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
		"--interface=eth0", "--bind-interfaces", "--log-dhcp",
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "pid")}, extra...)...)
	waitFor(t, "dnsmasq to listen on UDP 67", 10*time.Second, func() bool {
		out, err := ns.output(2*time.Second, "ss", "-Hlnu")
		return err == nil && strings.Contains(out, ":67 ")
	})
}

func startUdhcpc(t *testing.T, ns *netns, name string) *nstest.Udhcpc {
	return nstest.StartUdhcpc(t, ns.name, name)
}

// udhcpcOnce runs busybox udhcpc once in ns (5 DISCOVERs 2 s apart) and
// returns the address and server it was leased, "" when none.
func udhcpcOnce(t *testing.T, ns *netns) (ip, server string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "lease")
	script := writeFile(t, dir, "script", fmt.Sprintf("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $serverid\" > %s\nexit 0\n", out))
	os.Chmod(script, 0o755)
	ns.output(30*time.Second, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script)
	b, err := os.ReadFile(out)
	if err != nil {
		return "", ""
	}
	ip, server, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
	return ip, server
}

// The power cut: the box (static address, `dhcp auto`) boots long before
// the router and leases to the LAN's clients, with the router and DNS
// server it uses itself; the router's dnsmasq comes back about 2 minutes
// later. Every client then holds a dnsmasq lease within 5 minutes, none
// one of the box's. dnsmasq's range overlaps the box's, as a home
// router's would.
func TestDHCPAutoPowerCut(t *testing.T) {
	t.Parallel()
	requireTools(t, "ip", "ss", "busybox", "dnsmasq")
	box, router := newNetns(t), newNetns(t)
	clients := []*netns{newNetns(t), newNetns(t), newNetns(t)}
	lanBridge(t, box, append([]*netns{router}, clients...)...)
	run(t, "ip", "-n", router.name, "addr", "add", autoRouterAddr+"/24", "dev", "eth0")
	run(t, "ip", "-n", box.name, "route", "add", "default", "via", autoRouterAddr)
	dir := t.TempDir()
	b := startLoggedBox(t, box, autoBoxConf(t, dir))
	start := time.Now()

	var cs []*nstest.Udhcpc
	for i, ns := range clients {
		cs = append(cs, startUdhcpc(t, ns, fmt.Sprintf("client%d", i+1)))
	}
	// Alone on the segment, the box leases after its searches, with the
	// router and DNS server it uses itself.
	waitFor(t, "every client to hold a lease from the box", 3*time.Minute, func() bool {
		for _, c := range cs {
			if s, _, _ := c.Holder(t); s != boxAddr {
				return false
			}
		}
		return true
	})
	t.Logf("all clients leased from the box %.1f s after it started", time.Since(start).Seconds())
	for _, c := range cs {
		_, _, e := c.Holder(t)
		if e.Router != autoRouterAddr || e.DNS != autoRouterAddr || e.LeaseSeconds != 120 {
			t.Errorf("%s: lease from the box %+v; want router and dns %s, 120 s", c.Name, e, autoRouterAddr)
		}
		if !regexp.MustCompile(`^198\.18\.0\.(1[3-9][0-9]|12[89]|2[0-5][0-9])$`).MatchString(e.IP) {
			t.Errorf("%s: address %s, want one of the upper half", c.Name, e.IP)
		}
	}
	// The box has been serving for 2 minutes when the router is back.
	if d := 2*time.Minute - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	autoDnsmasq(t, router, "--dhcp-range=198.18.0.100,198.18.0.200,10m")
	back := time.Now()
	waitFor(t, "every client to hold a lease from dnsmasq", 5*time.Minute, func() bool {
		for _, c := range cs {
			if s, _, _ := c.Holder(t); s != autoRouterAddr {
				return false
			}
		}
		return true
	})
	all := time.Since(back)
	// When each client's lease from the box ended: its last event from
	// the box, or the event that ended it.
	var worst time.Duration
	for _, c := range cs {
		var end time.Time
		for _, e := range c.Events(t) {
			if e.At.Before(back) {
				continue
			}
			if e.ServerID == autoRouterAddr && (e.Event == "bound" || e.Event == "renew") {
				if end.IsZero() {
					end = e.At
				}
				break
			}
			if e.Event == "nak" || e.Event == "deconfig" {
				end = e.At
				break
			}
		}
		_, since, e := c.Holder(t)
		held := end.Sub(back)
		worst = max(worst, held)
		t.Logf("%s: box lease ended %.1f s after dnsmasq started; dnsmasq lease %s from %.1f s", c.Name, held.Seconds(), e.IP, since.Sub(back).Seconds())
		if e.Router != autoRouterAddr {
			t.Errorf("%s: dnsmasq lease %+v", c.Name, e)
		}
	}
	log := b.stop()
	t.Logf("every client held a dnsmasq lease %.1f s after dnsmasq started; the longest a box lease lasted: %.1f s", all.Seconds(), worst.Seconds())
	found := regexp.MustCompile(`msg="dhcp auto: another DHCP server appeared on the segment: stopped leasing[^"]*" .*server=198\.18\.0\.1 seen=(search|passive)`).FindString(log)
	if found == "" {
		t.Errorf("the box did not log the server it found:\n%s", log)
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "stopped leasing") || strings.Contains(l, "leasing addresses") || strings.Contains(l, "dhcp stopped") {
			t.Logf("box| %s", l)
		}
	}
	if rec, err := os.ReadFile(filepath.Join(dir, "dhcp.servers")); err != nil || !strings.Contains(string(rec), `"server":"198.18.0.1"`) {
		t.Errorf("record of other servers: %v %s", err, rec)
	}
}

// A router whose dnsmasq answers only the MACs it knows never answers the
// box's search. Once a known client (re)joins, the box sees its request
// name the router, stops leasing and records it: an unknown client gets
// no lease, then or after a restart of the box.
func TestDHCPAutoKnownMACsOnly(t *testing.T) {
	t.Parallel()
	requireTools(t, "ip", "ss", "busybox", "dnsmasq")
	box, router, known, unknown := newNetns(t), newNetns(t), newNetns(t), newNetns(t)
	lanBridge(t, box, router, known, unknown)
	run(t, "ip", "-n", router.name, "addr", "add", autoRouterAddr+"/24", "dev", "eth0")
	const knownMAC, unknownMAC = "02:00:00:00:0b:01", "02:00:00:00:0b:02"
	run(t, "ip", "-n", known.name, "link", "set", "eth0", "address", knownMAC)
	run(t, "ip", "-n", unknown.name, "link", "set", "eth0", "address", unknownMAC)
	autoDnsmasq(t, router, "--dhcp-range=198.18.0.100,198.18.0.200,10m",
		"--dhcp-host="+knownMAC+",198.18.0.51", "--dhcp-ignore=tag:!known")
	dir := t.TempDir()
	conf := autoBoxConf(t, dir)

	// Three searches find nothing: the router ignores the search's MAC.
	b := startLoggedBox(t, box, conf)
	waitFor(t, "the box to lease (its searches cannot see the router)", 2*time.Minute, func() bool {
		return strings.Contains(b.output(), "no other DHCP server answered: leasing addresses")
	})
	// The known client rejoins and gets its address from the router.
	if ip, server := udhcpcOnce(t, known); ip != "198.18.0.51" || server != autoRouterAddr {
		t.Errorf("known client: leased %q from %q, want the router's 198.18.0.51", ip, server)
	}
	waitFor(t, "the box to stop leasing", 10*time.Second, func() bool {
		return strings.Contains(b.output(), "another DHCP server appeared on the segment: stopped leasing")
	})
	log := b.output()
	if !regexp.MustCompile(`stopped leasing[^\n]*server=198\.18\.0\.1 seen=passive`).MatchString(log) {
		t.Errorf("the box did not log the server the client named:\n%s", log)
	}
	unknownGetsNothing := func(when string) {
		t.Helper()
		if ip, server := udhcpcOnce(t, unknown); ip != "" {
			t.Errorf("%s: the unknown client got %s from %s", when, ip, server)
		}
	}
	unknownGetsNothing("after the known client rejoined")
	b.stop()

	// After a restart the record keeps the box from leasing, searches or
	// not.
	b = startLoggedBox(t, box, conf)
	restarted := time.Now()
	waitFor(t, "the box to remember the router", 10*time.Second, func() bool {
		return strings.Contains(b.output(), "another DHCP server leases on this segment: answering DHCPINFORM only, never leasing")
	})
	if d := time.Minute - time.Since(restarted); d > 0 {
		time.Sleep(d) // past the 3 searches
	}
	unknownGetsNothing("after a restart")
	log = b.stop()
	if strings.Contains(log, "leasing addresses") {
		t.Errorf("the box leased after a restart:\n%s", log)
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "dhcp auto") {
			t.Logf("box| %s", l)
		}
	}
}

// The power cut on a LAN whose router answers only the MACs it knows,
// and a box that never saw it (no record): the box leases to the known
// client while the router is down. Once the router is back, the box's
// search, which asks as its own clients too, finds it: the box stops
// leasing and the client moves to the router at its next renewal.
func TestDHCPAutoPowerCutKnownMACsOnly(t *testing.T) {
	t.Parallel()
	requireTools(t, "ip", "ss", "busybox", "dnsmasq")
	box, router, known := newNetns(t), newNetns(t), newNetns(t)
	lanBridge(t, box, router, known)
	run(t, "ip", "-n", router.name, "addr", "add", autoRouterAddr+"/24", "dev", "eth0")
	const knownMAC = "02:00:00:00:0c:01"
	run(t, "ip", "-n", known.name, "link", "set", "eth0", "address", knownMAC)
	b := startLoggedBox(t, box, autoBoxConf(t, t.TempDir()))
	c := startUdhcpc(t, known, "known")
	waitFor(t, "the known client to lease from the box", 2*time.Minute, func() bool {
		s, _, _ := c.Holder(t)
		return s == boxAddr
	})
	autoDnsmasq(t, router, "--dhcp-range=198.18.0.100,198.18.0.200,10m",
		"--dhcp-host="+knownMAC+",198.18.0.51", "--dhcp-ignore=tag:!known")
	back := time.Now()
	waitFor(t, "the known client to lease from the router", 5*time.Minute, func() bool {
		s, _, _ := c.Holder(t)
		return s == autoRouterAddr
	})
	_, since, e := c.Holder(t)
	t.Logf("the known client holds %s from the router %.1f s after the router came back", e.IP, since.Sub(back).Seconds())
	log := b.stop()
	if !regexp.MustCompile(`stopped leasing[^\n]*server=198\.18\.0\.1 seen=search`).MatchString(log) {
		t.Errorf("the box did not find the router by its search:\n%s", log)
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "stopped leasing") || strings.Contains(l, "leasing addresses") {
			t.Logf("box| %s", l)
		}
	}
}
