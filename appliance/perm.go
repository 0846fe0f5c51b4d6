package appliance

import (
	"bytes"
	"strings"
	"time"
)

// The persistent partition: a FAT file system labelled PermLabel (the
// boot partition of the disk image `make image` writes) is mounted at
// PermDir. It holds what survives a reboot and what a person edits on
// another computer:
//
//	/perm/ntpbox.conf       the config, used instead of the baked-in one
//	/perm/ntpbox.conf.good  the last config that booted and served, used while ntpbox.conf is bad
//	/perm/cmdline.txt       more kernel command line parameters (ntpbox.address=...)
//	/perm/ntpbox.drift      the drift file, written by `ntpbox serve`
//	/perm/random-seed       the random seed (see Seeds)
//	/perm/ntpbox.time       the last known good time (see PermTime)
//
// What ntpbox writes there is kept as two checksummed copies, NAME and
// NAME.2, that survive a power cut (package internal/persist).
const (
	PermLabel    = "NTPBOX"
	PermDir      = "/perm"
	PermConfig   = PermDir + "/ntpbox.conf"
	PermLastGood = PermDir + "/ntpbox.conf.good"
	PermCmdline  = PermDir + "/cmdline.txt"
	PermDrift    = PermDir + "/ntpbox.drift"
)

// PermMountOptions are the vfat options of PermDir: "flush" writes
// sooner; "errors=continue" keeps the partition writable when a power
// cut left a file whose size its cluster chain does not reach (the
// kernel would otherwise make the whole partition read-only at the first
// read of it, and nothing would persist until someone ran fsck):
// package persist then removes that copy and writes it afresh.
//
// Only root reads or writes it (uid=0,gid=0, files 0600, directories
// 0700): it is also the boot partition, with the kernel, the initramfs,
// the boot loader and the admin's config, and a service taken over from
// the LAN must not change what boots next, nor read the random seed.
// The services keep their state there (drift, leases) through init
// (stateServer), which allows each only its own files.
const PermMountOptions = "flush,errors=continue,uid=0,gid=0,fmask=0077,dmask=0077"

// StorageModules are the drivers init loads, beside the ones the
// devices' modaliases match, to reach and mount the FAT partition: vfat
// and the character sets it uses (code page 437 for short names; the
// kernel's default iocharset, ascii, and utf8 for long ones).
var StorageModules = []string{"vfat", "nls_cp437", "nls_ascii", "nls_utf8"}

// mountPerm mounts the FAT partition labelled PermLabel at PermDir and
// reports whether it did; wait bounds the wait for a disk being probed.
func (in *Init) mountPerm(wait time.Duration) bool {
	dev, err := in.Sys.FindFAT(PermLabel, wait)
	if err != nil {
		in.Log.Error("find the persistent partition", "label", PermLabel, "err", err)
		return false
	}
	if dev == "" {
		if wait > 0 {
			in.Log.Info("no FAT partition labelled " + PermLabel + " yet: nothing persists until a disk with one comes")
		}
		return false
	}
	if err := in.Sys.Mount(dev, PermDir, "vfat", msNoSUID|msNoDev|msNoExec, PermMountOptions); err != nil {
		in.Log.Error("mount the persistent partition", "device", dev, "err", err)
		return false
	}
	in.Log.Info("persistent partition mounted", "device", dev, "target", PermDir)
	return true
}

// lastGood reads the last config that booted and served.
func (in *Init) lastGood() ([]byte, bool) {
	b, err := in.Sys.ReadBack(PermLastGood)
	return b, err == nil && len(b) > 0
}

// saveLastGood keeps the config in use as the last good one once the box
// served with it, when it came from /perm and differs from the copy.
func (in *Init) saveLastGood(bc *boxConfig) {
	if bc.permData == nil {
		return
	}
	if old, ok := in.lastGood(); ok && bytes.Equal(old, bc.permData) {
		return
	}
	if err := in.Sys.WriteFile(PermLastGood, bc.permData); err != nil {
		in.Log.Error("keep the last good config", "file", PermLastGood, "err", err)
		return
	}
	in.Log.Info("kept the config as the last good one", "file", PermLastGood)
}

// FATLabel returns the volume label in the boot sector of a FAT12, FAT16
// or FAT32 file system (its first 512 bytes), with the trailing spaces
// trimmed, and whether sector looks like a FAT boot sector with an
// extended BIOS parameter block at all.
//
//	offset  FAT12/16             FAT32
//	11      bytes per sector     (same)
//	22      sectors per FAT      0
//	38      0x29 (ext. BPB)      ...
//	43      label (11 bytes)     ...
//	54      "FAT12   "/"FAT16   " ...
//	66                           0x29 (ext. BPB)
//	71                           label (11 bytes)
//	82                           "FAT32   "
//	510     0x55 0xaa            (same)
func FATLabel(sector []byte) (string, bool) {
	if len(sector) < 512 || sector[510] != 0x55 || sector[511] != 0xaa {
		return "", false
	}
	if bps := int(sector[11]) | int(sector[12])<<8; bps < 512 || bps > 4096 || bps&(bps-1) != 0 {
		return "", false
	}
	sig, label, fstype := 38, 43, 54 // FAT12/16
	if sector[22] == 0 && sector[23] == 0 {
		sig, label, fstype = 66, 71, 82 // FAT32: no 16-bit FAT size
	}
	if sector[sig] != 0x29 || string(sector[fstype:fstype+3]) != "FAT" {
		return "", false
	}
	return strings.TrimRight(string(sector[label:label+11]), " \x00"), true
}
