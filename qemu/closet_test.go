//go:build linux

package qemu_test

// The box in the closet: the disk image, booted through SeaBIOS as
// people boot it (no RNG device, a screen and a serial port), on a LAN
// whose DHCP server (dnsmasq) comes late, renumbers the box, or where the
// admin left a bad line in ntpbox.conf.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// closetMAC is the box's MAC in these tests (QEMU's default), for
// dnsmasq's dhcp-host reservations.
const closetMAC = "52:54:00:12:34:56"

// closetBox boots a copy of the disk image through SeaBIOS with files
// written onto its FAT partition first; the image's own ntpbox.conf (the
// baked one) unless files replace it.
func closetBox(t *testing.T, lab *qemu.Lab, disk string) *qemu.VM {
	t.Helper()
	return qemu.StartT(t, qemu.Config{
		Disk: disk, Netns: lab.VMNetns, Tap: lab.Tap, MAC: closetMAC,
		QMP: t.TempDir() + "/qmp.sock",
	})
}

// closetDisk copies the disk image and writes files onto its partition.
func closetDisk(t *testing.T, files map[string]string) string {
	t.Helper()
	img := qemu.FindImage()
	requireDisk(t, img)
	disk := qemu.CopyT(t, img.Disk)
	for name, data := range files {
		if err := (qemu.DiskFile{Disk: disk, Name: name}).Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return disk
}

// closetLab is a lab with the upstream chronyd at LabHostAddr, which
// stopUpstream stops, and a namespace for dnsmasq at autoDnsmasqAddr.
func closetLab(t *testing.T, tools ...string) (lab *qemu.Lab, dhcpNS string, stopUpstream func()) {
	t.Helper()
	img := qemu.FindImage()
	qemu.RequireT(t, img, append([]string{"chronyd", "setpriv", "dnsmasq", "mcopy", "mtype"}, tools...)...)
	lab = qemu.NewLabT(t)
	dhcpNS, err := lab.AddNetns("dhcp", autoDnsmasqAddr+"/24")
	if err != nil {
		t.Fatal(err)
	}
	stopUpstream = lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	return lab, dhcpNS, stopUpstream
}

// closetDnsmasq runs the LAN's DHCP server: it leases addr to the box
// (a dhcp-host reservation) for lease, with the lab's upstream as the NTP
// server (option 42).
func closetDnsmasq(t *testing.T, ns, addr, lease string) *dnsmasqProc {
	return runDnsmasq(t, ns, "198.18.0.150,198.18.0.160,255.255.255.0,"+lease,
		"--dhcp-host="+closetMAC+","+addr+","+lease, "--dhcp-option=42,"+qemu.LabHostAddr)
}

// query asks the box at addr for the time from the client namespace.
func query(lab *qemu.Lab, addr string) (*ntpserver.QueryResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return ntpserver.Query(ctx, lab.DialClient, netip.AddrPortFrom(netip.MustParseAddr(addr), 123).String(), 4, time.Now)
}

// waitAnswers polls the box at addr until it answers (any stratum when
// stratum is 0) and returns when, or fails the test after within.
func waitAnswers(t *testing.T, lab *qemu.Lab, addr string, stratum int, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		r, err := query(lab, addr)
		if err == nil && (stratum == 0 || int(r.Header.Stratum) == stratum) {
			return time.Now()
		}
		if err == nil {
			err = fmt.Errorf("stratum %d", r.Header.Stratum)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no answer at %s (stratum %d) within %v; last: %v", addr, stratum, within, last)
	return time.Time{}
}

// Power cut, router slower than the box: the disk image with its default
// config (address dhcp) boots on a LAN whose DHCP server starts 100 s
// later. The box keeps asking, takes the lease, and answers NTP at its
// address without a reboot; it synchronises to the lease's NTP server
// (option 42), and the DHCP server's log shows its host name (option 12).
func TestClosetLateLease(t *testing.T) {
	t.Parallel()
	lab, dhcpNS, _ := closetLab(t)
	vm := closetBox(t, lab, closetDisk(t, nil))
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Expect("no address yet, asking DHCP", bootTimeout); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(vm.Started.Add(100 * time.Second)))
	started := time.Now()
	dnsmasq := closetDnsmasq(t, dhcpNS, "198.18.0.150", "2m")
	at := waitAnswers(t, lab, "198.18.0.150", 0, 60*time.Second)
	t.Logf("the box answered NTP %.1f s after dnsmasq started (%.1f s after QEMU)", at.Sub(started).Seconds(), at.Sub(vm.Started).Seconds())
	at = waitAnswers(t, lab, "198.18.0.150", 3, syncWithin)
	t.Logf("stratum 3 from the lease's NTP server %.1f s after dnsmasq started", at.Sub(started).Seconds())
	if _, err := vm.Expect("ntpbox-123456 at 198.18.0.150/24 on eth0 (DHCP lease from 198.18.0.4", 10*time.Second); err != nil {
		t.Errorf("no banner with the lease: %v", err)
	}
	// dnsmasq logs the client's host name with its ACK.
	if !dnsmasq.Saw("DHCPACK(eth0) 198.18.0.150 "+closetMAC+" ntpbox-123456", 5*time.Second) {
		t.Error("dnsmasq did not see the box's host name (option 12) ntpbox-123456")
	}
}

// No entropy: the disk image under TCG's default CPU (no RDRAND) and no
// RNG device takes its lease and answers NTP within 60 s of power-on.
func TestClosetNoEntropy(t *testing.T) {
	lab, dhcpNS, _ := closetLab(t)
	closetDnsmasq(t, dhcpNS, "198.18.0.150", "10m")
	vm := closetBox(t, lab, closetDisk(t, nil))
	at := waitAnswers(t, lab, "198.18.0.150", 0, 60*time.Second)
	t.Logf("leased and answering NTP %.1f s after QEMU started, with no RNG device", at.Sub(vm.Started).Seconds())
	if l, err := vm.Expect("random: crng init done", time.Millisecond); err == nil {
		t.Logf("(the kernel's pool was ready at %.1f s)", l.At.Seconds())
	}
}

// Renumbering: the LAN's DHCP server moves the box to a new address on a
// 2-minute lease. Within 3 minutes the box answers at the new address and
// no longer at the old one.
func TestClosetRenumbering(t *testing.T) {
	t.Parallel()
	lab, dhcpNS, _ := closetLab(t)
	first := closetDnsmasq(t, dhcpNS, "198.18.0.150", "2m")
	vm := closetBox(t, lab, closetDisk(t, nil))
	waitAnswers(t, lab, "198.18.0.150", 0, bootTimeout)
	first.Stop()
	closetDnsmasq(t, dhcpNS, "198.18.0.151", "2m")
	moved := time.Now()
	at := waitAnswers(t, lab, "198.18.0.151", 0, 3*time.Minute)
	t.Logf("answering at the new address %.1f s after the DHCP server moved it", at.Sub(moved).Seconds())
	deadline := moved.Add(3 * time.Minute)
	for {
		if _, err := query(lab, "198.18.0.150"); err != nil {
			t.Logf("no longer answering at the old address %.1f s after the move", time.Since(moved).Seconds())
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still answering at the old address 3 minutes after the move")
		}
		time.Sleep(time.Second)
	}
	if _, err := vm.Expect("at 198.18.0.151/24 on eth0", 10*time.Second); err != nil {
		t.Errorf("no banner with the new address: %v", err)
	}
}

// The cable is pulled, and plugged in again on a LAN where the box's
// address belongs to it no longer: the box asks for its address again as
// the link comes up (INIT-REBOOT), takes the DHCP server's NAK, and
// answers at its new address at once, not at the next renewal.
func TestClosetCableMoved(t *testing.T) {
	t.Parallel()
	lab, dhcpNS, _ := closetLab(t)
	first := closetDnsmasq(t, dhcpNS, "198.18.0.150", "1h")
	vm := closetBox(t, lab, closetDisk(t, nil))
	waitAnswers(t, lab, "198.18.0.150", 0, bootTimeout)
	if err := vm.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Expect("link down", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	closetDnsmasq(t, dhcpNS, "198.18.0.151", "1h")
	if err := vm.SetLink(true); err != nil {
		t.Fatal(err)
	}
	plugged := time.Now()
	if _, err := vm.Expect("link up", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	at := waitAnswers(t, lab, "198.18.0.151", 0, time.Minute)
	t.Logf("answering at the new address %.1f s after the cable was plugged in (the lease had an hour left)", at.Sub(plugged).Seconds())
	if _, err := query(lab, "198.18.0.150"); err == nil {
		t.Error("still answering at the old address")
	}
}

// A bad config: a box that served with a static address and its servers
// gets one bad line in /perm/ntpbox.conf (and a new address beside it).
// It keeps the address and servers of the last good config, serves
// stratum 3, and shows the error on the console.
func TestClosetBadConfig(t *testing.T) {
	lab, _, _ := closetLab(t)
	good := "address 198.18.0.2/24\nserver " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0 # the lab's upstream\nmakestep 1 3\nallow all\n"
	disk := closetDisk(t, map[string]string{"ntpbox.conf": good})
	vm := closetBox(t, lab, disk)
	waitAnswers(t, lab, "198.18.0.2", 3, bootTimeout)
	if _, err := vm.Expect("kept the config as the last good one", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	powerOff(t, vm)
	if b, err := (qemu.DiskFile{Disk: disk, Name: "ntpbox.conf.good"}).ReadPersisted(); err != nil || !strings.Contains(string(b), "address 198.18.0.2/24") {
		t.Fatalf("last good config on the partition: %q, %v", b, err)
	}

	bad := strings.Replace(good, "198.18.0.2/24", "198.18.0.3/24", 1) + "allow 198.18.0.0/33\n"
	if err := (qemu.DiskFile{Disk: disk, Name: "ntpbox.conf"}).Write([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	vm = closetBox(t, lab, disk)
	waitAnswers(t, lab, "198.18.0.2", 3, bootTimeout)
	for _, want := range []string{
		"CONFIG PROBLEM: /perm/ntpbox.conf is invalid:",
		"/perm/ntpbox.conf:5: allow: expected an address",
		"CONFIG PROBLEM: running the last config that booted and served, /perm/ntpbox.conf.good",
	} {
		if _, err := vm.Expect(want, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	if _, err := query(lab, "198.18.0.3"); err == nil {
		t.Error("the box answers at the address of the bad config")
	}
	screen, err := vm.Screen()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(screen, "CONFIG PROBLEM: /perm/ntpbox.conf is invalid:") {
		t.Errorf("the screen does not show the config problem:\n%s", lastLines(screen, 30))
	}
	powerOff(t, vm)
}

// The screen: ntpbox's own messages reach tty0 (the VGA text console, read
// from the guest's memory) as well as the serial port.
func TestClosetScreen(t *testing.T) {
	lab, _, _ := closetLab(t)
	disk := closetDisk(t, map[string]string{"cmdline.txt": "ntpbox.address=" + qemu.LabVMAddr + "/24\n"})
	vm := closetBox(t, lab, disk)
	wants := []string{appliance.SentinelServing, "ntpbox-123456 at " + qemu.LabVMAddr + "/24 on eth0 (static)",
		"check it from the LAN: ntpdate -q " + qemu.LabVMAddr}
	for _, want := range wants {
		if _, err := vm.Expect(want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	// The serial port has them all: the screen must too (the console
	// writes reach it at once; allow for a slow guest).
	var screen string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if screen, err = vm.Screen(); err != nil {
			t.Fatal(err)
		}
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(screen, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen lacks %q:\n%s", missing, lastLines(screen, 30))
		}
		time.Sleep(time.Second)
	}
	powerOff(t, vm)
}

// A panic during boot is on every console, and the box reboots 10 s later
// (QEMU runs with -no-reboot, so the reboot ends it).
func TestClosetPanicReboots(t *testing.T) {
	lab, _, _ := closetLab(t)
	disk := closetDisk(t, map[string]string{"cmdline.txt": "ntpbox.testpanic=boot\n"})
	vm := closetBox(t, lab, disk)
	l, err := vm.Expect(appliance.SentinelPanic, bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	screen, err := vm.Screen()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(screen, appliance.SentinelPanic) {
		t.Errorf("the panic is not on the screen:\n%s", lastLines(screen, 20))
	}
	if err := vm.Wait(time.Minute); err != nil {
		t.Fatalf("QEMU after the panic: %v", err)
	}
	after := time.Since(vm.Started) - l.At
	t.Logf("the box rebooted %.1f s after the panic", after.Seconds())
	if _, err := vm.Expect("ntpbox: rebooting", time.Second); err != nil {
		t.Error(err)
	}
	if after < 9*time.Second {
		t.Errorf("rebooted %v after the panic, want 10 s", after)
	}
}

// powerOff presses the power button and waits for QEMU to end.
func powerOff(t *testing.T, vm *qemu.VM) {
	t.Helper()
	if err := vm.Powerdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Expect(appliance.SentinelPowerOff, stopTimeout); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(stopTimeout); err != nil {
		t.Fatalf("QEMU after power off: %v", err)
	}
}

func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
