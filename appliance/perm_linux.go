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
// system labelled label, or "" when there is none. Disks appear while
// their drivers probe them: as long as a disk, SCSI device or USB device
// exists, it looks again every 250 ms (loading the drivers of devices
// that came meanwhile, such as a USB stick's) until wait has passed.
func (l *Linux) FindFAT(label string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	lastProbe := time.Now()
	for {
		if dev := findFATOnce(label); dev != "" {
			return dev, nil
		}
		if !devicesPending() || time.Now().After(deadline) {
			return "", nil
		}
		if time.Since(lastProbe) > time.Second {
			l.LoadDrivers()
			lastProbe = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
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

// devicesPending reports whether there is a device that could be, or
// become, the disk with the label.
func devicesPending() bool {
	for _, pattern := range []string{"/sys/class/block/*", "/sys/bus/scsi/devices/*:*:*:*", "/sys/bus/usb/devices/*-*"} {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			if !skipBlock(filepath.Base(p)) {
				return true
			}
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
