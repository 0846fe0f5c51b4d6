//go:build linux

package qemu_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/internal/nstest"
	"github.com/ntpbox/ntpbox/qemu"
)

// The power cut with `dhcp auto`: the box (disk image, a static address,
// the router as its gateway and nameserver) boots minutes before the
// LAN's DHCP server (dnsmasq, the "router") comes back, and leases to the
// clients (busybox udhcpc daemons) meanwhile, with the router and DNS
// server it uses itself. Once dnsmasq is back, every client holds a
// dnsmasq lease within 5 minutes, and the box records the server on
// /perm so that it never leases beside it again.
func TestPowerCutDHCPAuto(t *testing.T) {
	t.Parallel()
	lab, routerNS, _ := closetLab(t, "busybox")
	const box, router = qemu.LabVMAddr, autoDnsmasqAddr
	conf := fmt.Sprintf(`address %s/24
gateway %s
nameserver %s
dhcp auto
server %s iburst
makestep 1 3
local stratum 10 orphan
`, box, router, router, qemu.LabHostAddr)
	disk := closetDisk(t, map[string]string{"ntpbox.conf": conf})
	vm := closetBox(t, lab, disk)
	var clients []*nstest.Udhcpc
	for i := range 3 {
		ns, err := lab.AddNetns(fmt.Sprintf("c%d", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nstest.StartUdhcpc(t, ns, fmt.Sprintf("client%d", i+1)))
	}
	every := func(what string, within time.Duration, server string) time.Time {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			all := true
			for _, c := range clients {
				if s, _, _ := c.Holder(t); s != server {
					all = false
				}
			}
			if all {
				return time.Now()
			}
			if time.Now().After(deadline) {
				for _, c := range clients {
					s, _, e := c.Holder(t)
					t.Logf("%s: holds %q %+v", c.Name, s, e)
				}
				t.Fatalf("not every client held a lease from %s (%s) within %v", server, what, within)
			}
			time.Sleep(time.Second)
		}
	}
	at := every("the box, alone on the LAN", 4*time.Minute, box)
	t.Logf("every client leased from the box %.0f s after QEMU started", at.Sub(vm.Started).Seconds())
	for _, c := range clients {
		_, _, e := c.Holder(t)
		if e.Router != router || e.DNS != router || e.LeaseSeconds != 120 {
			t.Errorf("%s: lease from the box %+v; want router and DNS %s (the box's own), 120 s", c.Name, e, router)
		}
	}
	// The router's DHCP server comes back 2.5 minutes after the box.
	time.Sleep(time.Until(vm.Started.Add(150 * time.Second)))
	back := time.Now()
	runDnsmasq(t, routerNS, "198.18.0.100,198.18.0.200,255.255.255.0,10m")
	all := every("dnsmasq, back", 5*time.Minute, router)
	var worst time.Duration
	for _, c := range clients {
		end := c.BoxLeaseEnded(t, box, back)
		worst = max(worst, end.Sub(back))
		_, since, e := c.Holder(t)
		t.Logf("%s: the box's lease ended %.1f s after dnsmasq came back; dnsmasq's %s from %.1f s", c.Name,
			end.Sub(back).Seconds(), e.IP, since.Sub(back).Seconds())
	}
	t.Logf("every client held a dnsmasq lease %.1f s after dnsmasq came back; the longest a box lease lasted after that: %.1f s",
		all.Sub(back).Seconds(), worst.Seconds())
	if worst > 5*time.Minute {
		t.Errorf("a client held the box's lease %v after dnsmasq came back, want at most 5 minutes", worst)
	}
	if _, err := vm.Expect("stopped leasing", time.Second); err != nil {
		t.Errorf("the box did not log that it stopped leasing: %v", err)
	}
	powerOff(t, vm)
	rec, err := (qemu.DiskFile{Disk: disk, Name: "dhcp.servers"}).ReadPersisted()
	if err != nil || !strings.Contains(string(rec), `"server":"`+router+`"`) {
		t.Errorf("the record of other DHCP servers on /perm: %v %s", err, rec)
	}
}
