//go:build linux

package qemu_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// diskConfig is the ntpbox.conf the disk tests write onto the image's
// FAT partition, replacing the one build/disk.sh put there (which names
// the public pool).
var diskConfig = "# written by the disk test\n" +
	"server " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0\n" +
	"makestep 1 3\n" +
	"local stratum 10 orphan\n"

// requireDisk skips the test without the disk image, or fails it under
// NTPBOX_REQUIRE_TOOLS=1.
func requireDisk(t *testing.T, img qemu.Image) {
	t.Helper()
	if _, err := os.Stat(img.Disk); err != nil {
		if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%v (make image)", err)
		}
		t.Skipf("%v; run `make image`", err)
	}
}

// prepareDisk copies the image's disk and writes the test's ntpbox.conf
// and cmdline.txt (the static address) onto it.
func prepareDisk(t *testing.T, img qemu.Image) string {
	t.Helper()
	requireDisk(t, img)
	disk := qemu.CopyT(t, img.Disk)
	files := map[string]string{
		"ntpbox.conf": diskConfig,
		"cmdline.txt": "ntpbox.address=" + qemu.LabVMAddr + "/24 ntpbox.allow=all\n",
	}
	for name, data := range files {
		if err := (qemu.DiskFile{Disk: disk, Name: name}).Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return disk
}

// bootDisk boots the disk through the firmware (SeaBIOS, or UEFI when
// uefi is set), waits until it serves stratum 3 (synchronised to the
// lab's upstream), and powers it off with the power button.
func bootDisk(t *testing.T, lab *qemu.Lab, c qemu.Config, expect ...string) {
	t.Helper()
	c.Netns, c.Tap = lab.VMNetns, lab.Tap
	c.QMP = t.TempDir() + "/qmp.sock"
	vm := qemu.StartT(t, c)
	r, at := firstReply(t, lab, vm)
	t.Logf("first NTP reply %.2f s after QEMU started (firmware, boot loader, bzImage): stratum %d", at.Seconds(), r.Header.Stratum)
	for _, want := range append([]string{"persistent partition mounted", "using the persistent config"}, expect...) {
		if _, err := vm.Expect(want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(syncWithin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := ntpserver.Query(ctx, lab.DialClient, qemu.LabVMAddr+":123", 4, time.Now)
		cancel()
		if err == nil && r.Header.Stratum == 3 {
			t.Logf("serving stratum 3 %.2f s after QEMU started", time.Since(vm.Started).Seconds())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving stratum 3 within %v of the first reply (last: %v, %+v)", syncWithin, err, r)
		}
		time.Sleep(500 * time.Millisecond)
	}
	powerOff(t, vm)
}

// The disk image boots through SeaBIOS and syslinux from a virtio disk,
// takes its config and address from the FAT partition, synchronises to
// the lab's upstream and serves; powered off, it has written its drift
// file to the partition. Booted again, from an IDE disk this time, it
// restores the frequency from that file.
func TestDiskBootsAndPersistsDrift(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "mcopy", "mtype")
	disk := prepareDisk(t, img)
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)

	bootDisk(t, lab, qemu.Config{Disk: disk, DiskIf: "virtio"})
	drift := readDrift(t, disk)
	t.Logf("after the first boot: %s = %q", appliance.PermDrift, drift)

	bootDisk(t, lab, qemu.Config{Disk: disk, DiskIf: "ide"}, "frequency restored from drift file")
	readDrift(t, disk)
}

// readDrift reads ntpbox.drift from the disk's FAT partition (the newest
// intact of its two copies) and checks it holds a frequency in ppm.
func readDrift(t *testing.T, disk string) string {
	t.Helper()
	b, err := (qemu.DiskFile{Disk: disk, Name: "ntpbox.drift"}).ReadPersisted()
	if err != nil {
		t.Fatalf("drift file after power off: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		t.Fatalf("drift file is empty")
	}
	if _, err := strconv.ParseFloat(f[0], 64); err != nil {
		t.Fatalf("drift file %q: %v", b, err)
	}
	return strings.TrimSpace(string(b))
}

// OVMF is Debian's UEFI firmware for QEMU (package ovmf).
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS.fd"
)

// The same disk image boots through UEFI (OVMF, which starts
// EFI/BOOT/BOOTX64.EFI, systemd-boot, which starts the kernel's EFI
// stub), mounts its partition and serves.
func TestDiskBootsUEFI(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "mcopy", "mtype", ovmfCode, ovmfVars)
	disk := prepareDisk(t, img)
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	bootDisk(t, lab, qemu.Config{Disk: disk, UEFICode: ovmfCode, UEFIVars: qemu.CopyT(t, ovmfVars)})
	readDrift(t, disk)
}
