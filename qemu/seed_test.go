//go:build linux

package qemu_test

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// nowhereNIC is a NIC on a QEMU hub with no other port: the box finds
// its Ethernet interface at once and its frames go nowhere. (No RNG
// device: these tests are about booting without one.)
var nowhereNIC = []string{"-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-pci,netdev=n0,romfile="}

// seedBoot boots the disk with no network and no RNG device, expects
// the console lines in order, then presses the power button and waits
// for QEMU to end. It returns the console.
func seedBoot(t *testing.T, c qemu.Config, expect ...string) []qemu.Line {
	t.Helper()
	c.QMP = t.TempDir() + "/qmp.sock"
	c.Extra = append(c.Extra, nowhereNIC...)
	vm := qemu.StartT(t, c)
	waitAll(t, vm, append(expect, "watching the power button"))
	if err := vm.Powerdown(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"random seed saved for the next boot", appliance.SentinelPowerOff} {
		if _, err := vm.Expect(want, stopTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if err := vm.Wait(stopTimeout); err != nil {
		t.Fatalf("QEMU after power off: %v", err)
	}
	return vm.Lines()
}

// waitAll waits until the console has a line containing each of want,
// in any order.
func waitAll(t *testing.T, vm *qemu.VM, want []string) {
	t.Helper()
	deadline := time.Now().Add(bootTimeout)
	for {
		var missing []string
		lines := vm.Lines()
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l qemu.Line) bool { return strings.Contains(l.Text, w) }) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-vm.Done():
			t.Fatalf("QEMU ended; the console never had %q", missing)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the console has not had %q", bootTimeout, missing)
		}
	}
}

// crngDone is the kernel's line when its random pool is ready.
var crngDone = regexp.MustCompile(`^\[\s*([0-9.]+)\] random: crng init done`)

// crngAt returns the index of the kernel's "crng init done" line and
// its time since boot.
func crngAt(t *testing.T, lines []qemu.Line) (int, float64) {
	t.Helper()
	for i, l := range lines {
		if m := crngDone.FindStringSubmatch(l.Text); m != nil {
			s, _ := strconv.ParseFloat(m[1], 64)
			return i, s
		}
	}
	t.Fatal("no `random: crng init done` on the console")
	return 0, 0
}

func lineIndex(t *testing.T, lines []qemu.Line, s string) int {
	t.Helper()
	for i, l := range lines {
		if strings.Contains(l.Text, s) {
			return i
		}
	}
	t.Fatalf("no %q on the console", s)
	return 0
}

func readSeedFile(t *testing.T, disk string) ([]byte, bool) {
	t.Helper()
	b, err := (qemu.DiskFile{Disk: disk, Name: "random-seed"}).ReadPersisted()
	if err != nil {
		t.Fatal(err)
	}
	seed, credit, err := appliance.ParseSeed(b)
	if err != nil {
		t.Fatalf("random-seed %q: %v", b, err)
	}
	return seed, credit
}

// The disk image boots through SeaBIOS with no RNG device. It ships no
// seed. The first boot finds none, waits for the random pool in the
// background, then saves a creditable seed (and systemd-boot's); the
// second credits it at once: the kernel reports its pool ready in the
// ioctl that credits it, right after the partition is mounted, and the
// seed on the disk is a new one.
func TestDiskRandomSeed(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "mcopy", "mtype")
	requireDisk(t, img)
	for _, name := range []string{"random-seed", "random-seed.2", "loader/random-seed"} {
		if b, err := (qemu.DiskFile{Disk: img.Disk, Name: name}).Read(); err == nil {
			t.Fatalf("the image ships %s (%d bytes): every copy would share it", name, len(b))
		}
	}
	disk := prepareDisk(t, img)

	lines := seedBoot(t, qemu.Config{Disk: disk}, "random seed not credited: no /perm/random-seed yet", "random pool ready after", "saved a creditable seed to /perm/random-seed")
	_, at := crngAt(t, lines)
	t.Logf("first boot: crng init done %.2f s after the kernel started; %q", at, lines[lineIndex(t, lines, "random pool ready")].Text)
	first, credit := readSeedFile(t, disk)
	if !credit {
		t.Fatalf("first boot saved a seed that is not creditable")
	}
	loader, err := (qemu.DiskFile{Disk: disk, Name: "loader/random-seed"}).Read()
	if err != nil || len(loader) != appliance.SeedSize {
		t.Fatalf("systemd-boot's seed after the first boot: %d bytes, %v", len(loader), err)
	}

	lines = seedBoot(t, qemu.Config{Disk: disk}, "random seed credited: 256 bits from /perm/random-seed")
	i, at := crngAt(t, lines)
	mounted, credited := lineIndex(t, lines, "persistent partition mounted"), lineIndex(t, lines, "random seed credited")
	t.Logf("second boot: crng init done %.2f s after the kernel started", at)
	if i < mounted || i > credited {
		t.Errorf("crng init done (line %d) is not between the mount (%d) and the credit (%d)", i, mounted, credited)
	}
	second, credit := readSeedFile(t, disk)
	if bytes.Equal(first, second) || !credit {
		t.Errorf("seed after the second boot: the same %v, creditable %v", bytes.Equal(first, second), credit)
	}
}

// Through UEFI, systemd-boot turns loader/random-seed into the EFI
// variable LoaderRandomSeed (random-seed-mode always) and rewrites the
// file; init credits the variable.
func TestDiskUEFIRandomSeed(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "mcopy", "mtype", ovmfCode, ovmfVars)
	disk := prepareDisk(t, img)
	placed := make([]byte, appliance.SeedSize)
	rand.Read(placed)
	f := qemu.DiskFile{Disk: disk, Name: "loader/random-seed"}
	if err := f.Write(placed); err != nil {
		t.Fatal(err)
	}
	lines := seedBoot(t, qemu.Config{Disk: disk, UEFICode: ovmfCode, UEFIVars: qemu.CopyT(t, ovmfVars)},
		"random seed credited: 256 bits from LoaderRandomSeed (systemd-boot)")
	i, at := crngAt(t, lines)
	t.Logf("crng init done %.2f s after the kernel started", at)
	if credited := lineIndex(t, lines, "from LoaderRandomSeed"); i > credited {
		t.Errorf("crng init done (line %d) after the credit (%d)", i, credited)
	}
	now, err := f.Read()
	if err != nil || len(now) != appliance.SeedSize || bytes.Equal(now, placed) {
		t.Errorf("loader/random-seed after the boot: %d bytes, rewritten %v, %v", len(now), !bytes.Equal(now, placed), err)
	}
}
