//go:build linux

package qemu_test

// The hardware matrix of issue 13: the disk image booted through SeaBIOS
// from the disk controllers and with the NICs that old PCs have, each
// taking its address from a real DHCP server (dnsmasq) and answering a
// real NTP client (ntpdig) at stratum 3.

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// hwSetup is one machine of the matrix.
type hwSetup struct {
	name string
	nic  string // QEMU NIC model
	mem  int    // MiB
	// disk returns the QEMU arguments that attach the disk image at
	// path as the machine's boot disk (bootindex 0: SeaBIOS boots it
	// first, as a PC set up to boot from that disk does).
	disk func(path string) []string
}

var hwMatrix = []hwSetup{
	{"e1000-ahci-128M", "e1000", 128, func(p string) []string {
		return []string{"-device", "ahci,id=ahci0",
			"-drive", "id=d0,file=" + p + ",format=raw,if=none",
			"-device", "ide-hd,drive=d0,bus=ahci0.0,bootindex=0"}
	}},
	{"rtl8139-xhci-usb-stick", "rtl8139", 256, func(p string) []string {
		return []string{"-device", "qemu-xhci,id=xhci0",
			"-drive", "id=d0,file=" + p + ",format=raw,if=none",
			"-device", "usb-storage,bus=xhci0.0,drive=d0,removable=on,bootindex=0"}
	}},
	{"e1000e-nvme", "e1000e", 256, func(p string) []string {
		return []string{"-drive", "id=d0,file=" + p + ",format=raw,if=none",
			"-device", "nvme,drive=d0,serial=ntpbox0,bootindex=0"}
	}},
}

// hwLeaseRE finds dnsmasq's DHCPACK to the VM's MAC (qemu.Config's
// default) in its log.
var hwLeaseRE = regexp.MustCompile(`DHCPACK\(eth0\) (198\.18\.0\.\d+) 52:54:00:12:34:56`)

func TestHardwareMatrix(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "dnsmasq", "ntpdig", "mcopy", "mtype")
	requireDisk(t, img)
	for _, hw := range hwMatrix {
		t.Run(hw.name, func(t *testing.T) { bootHardware(t, img, hw) })
	}
}

// bootHardware boots a copy of the disk image on hw, with the lab's
// upstream in its ntpbox.conf and no address of its own (the baked
// `address dhcp`), next to dnsmasq; it must take dnsmasq's lease, serve
// stratum 3 on the leased address to ntpdig, and power off cleanly.
func bootHardware(t *testing.T, img qemu.Image, hw hwSetup) {
	disk := qemu.CopyT(t, img.Disk)
	conf := "# written by the hardware matrix test\n" +
		"server " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0\n" +
		"makestep 1 3\n"
	if err := (qemu.DiskFile{Disk: disk, Name: "ntpbox.conf"}).Write([]byte(conf)); err != nil {
		t.Fatal(err)
	}
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	dhcpNS, err := lab.AddNetns("dhcp", autoDnsmasqAddr+"/24")
	if err != nil {
		t.Fatal(err)
	}
	dm := runDnsmasq(t, dhcpNS, "198.18.0.150,198.18.0.160,255.255.255.0,10m")

	vm := qemu.StartT(t, qemu.Config{
		NIC: hw.nic, MemoryMiB: hw.mem, Extra: hw.disk(disk),
		Netns: lab.VMNetns, Tap: lab.Tap, QMP: t.TempDir() + "/qmp.sock",
	})
	for _, want := range []string{"persistent partition mounted", "using the persistent config"} {
		if _, err := vm.Expect(want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	var addr string
	deadline := time.Now().Add(bootTimeout)
	for addr == "" {
		for _, l := range dm.out.Lines() {
			if m := hwLeaseRE.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		}
		if addr == "" && time.Now().After(deadline) {
			t.Fatalf("no DHCPACK from dnsmasq to the box within %v", bootTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%s: leased %s by dnsmasq %.1f s after QEMU started", hw.name, addr, time.Since(vm.Started).Seconds())

	var dig struct {
		Stratum int     `json:"stratum"`
		Offset  float64 `json:"offset"`
	}
	deadline = time.Now().Add(syncWithin + bootTimeout)
	for {
		out, err := lab.Client("ntpdig", "-j", "-t", "2", addr).CombinedOutput()
		if err == nil && json.Unmarshal(out, &dig) == nil && dig.Stratum == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ntpdig %s: not stratum 3 within %v: %v\n%s", addr, syncWithin+bootTimeout, err, out)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s: ntpdig: stratum %d, offset %+.6f s, %.1f s after QEMU started", hw.name, dig.Stratum, dig.Offset, time.Since(vm.Started).Seconds())

	powerOff(t, vm)
}
