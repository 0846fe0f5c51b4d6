//go:build linux

package appliance

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// FindFAT returns the block device (/dev/vda1) that holds a FAT file
// system labelled label, or "" when there is none. It waits, at most
// wait, only while a storage device is half probed or the kernel still
// sends uevents (less than usbSettle ago): a SCSI disk (a USB
// stick's, after usb-storage's one-second delay) without its block
// device yet, a USB mass-storage interface without its disk, an NVMe
// controller without its namespaces. A machine with no disk, or with
// only a CD drive and USB hubs, does not wait: a disk that comes later
// is seen by the uevent watcher ([Linux.WatchDisks]).
//
// A USB controller finds what is plugged into it a few hundred
// milliseconds after its driver loads, with no sign in sysfs until then:
// when there is one, FindFAT first waits until the kernel has sent no
// uevent for usbSettle (at most usbSettleMax), so that a stick present
// at boot is mounted before the services start.
func (l *Linux) FindFAT(label string, wait time.Duration) (string, error) {
	if wait > 0 && usbHosts() {
		l.settle(usbSettle, min(wait, usbSettleMax))
	}
	deadline := time.Now().Add(wait)
	lastProbe := time.Now()
	for {
		if dev := findFATOnce(label); dev != "" {
			return dev, nil
		}
		// A disk's partitions come a moment after the disk itself (the
		// kernel reads the partition table, then adds sda1): while the
		// kernel still sends uevents, a disk may be in between, with
		// nothing in sysfs that says so.
		if (!storagePending() && !l.eventWithin(usbSettle)) || time.Now().After(deadline) {
			return "", nil
		}
		if time.Since(lastProbe) > time.Second {
			l.LoadDrivers()
			lastProbe = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// How long the uevents must be quiet before FindFAT looks, on a machine
// with a USB controller, and the longest it waits for that.
const (
	usbSettle    = 500 * time.Millisecond
	usbSettleMax = 3 * time.Second
)

// settle waits until no uevent came for quiet, at most max.
func (l *Linux) settle(quiet, max time.Duration) {
	start := time.Now()
	for time.Since(start) < max {
		last := time.Unix(0, l.lastEvent.Load())
		if last.Before(start) {
			last = start
		}
		if time.Since(last) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventWithin reports whether the uevent watcher saw an event in the
// last d.
func (l *Linux) eventWithin(d time.Duration) bool {
	return time.Since(time.Unix(0, l.lastEvent.Load())) < d
}

// usbHosts reports whether the machine has a USB host controller (a
// root hub).
func usbHosts() bool {
	m, _ := filepath.Glob("/sys/bus/usb/devices/usb*")
	return len(m) > 0
}

// findFATOnce reads the first sector of every block device and partition.
func findFATOnce(label string) string {
	names, _ := filepath.Glob("/sys/class/block/*")
	for _, n := range names {
		name := filepath.Base(n)
		if skipBlock(name) {
			continue
		}
		dev := "/dev/" + name
		f, err := os.Open(dev)
		if err != nil {
			continue
		}
		b := make([]byte, 512)
		_, err = io.ReadFull(f, b)
		f.Close()
		if err != nil {
			continue
		}
		if l, ok := FATLabel(b); ok && strings.EqualFold(l, label) {
			return dev
		}
	}
	return ""
}

func skipBlock(name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "sr", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// storagePending reports whether a storage device is still being
// probed: one that will have a block device but has none yet.
func storagePending() bool {
	has := func(pattern string) bool { m, _ := filepath.Glob(pattern); return len(m) > 0 }
	// SCSI disks (type 0), optical-less: sd_mod adds block/sdX.
	devs, _ := filepath.Glob("/sys/bus/scsi/devices/*:*:*:*")
	for _, d := range devs {
		if t, err := os.ReadFile(filepath.Join(d, "type")); err == nil && strings.TrimSpace(string(t)) == "0" && !has(filepath.Join(d, "block", "*")) {
			return true
		}
	}
	// USB mass storage (interface class 08) with no disk below it yet.
	intfs, _ := filepath.Glob("/sys/bus/usb/devices/*:*")
	for _, d := range intfs {
		if c, err := os.ReadFile(filepath.Join(d, "bInterfaceClass")); err == nil && strings.TrimSpace(string(c)) == "08" && !has(filepath.Join(d, "host*", "target*", "*", "block", "*")) {
			return true
		}
	}
	// NVMe controllers scan their namespaces in the background.
	ctrls, _ := filepath.Glob("/sys/class/nvme/nvme*")
	for _, c := range ctrls {
		if !has(filepath.Join(c, filepath.Base(c)+"n*")) {
			return true
		}
	}
	return false
}

func (l *Linux) Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
