package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Uevent is one kernel uevent, as the kernel sends it on a
// NETLINK_KOBJECT_UEVENT socket: "ACTION@DEVPATH", then KEY=VALUE
// fields, each ending in a NUL byte.
type Uevent struct {
	Action    string // add, remove, change, bind, ...
	DevPath   string // /devices/pci0000:00/.../block/sda/sda1
	Subsystem string // block, usb, scsi, ...
	DevName   string // sda1 (block and character devices only)
	DevType   string // disk, partition, usb_interface, ...
	Modalias  string // the driver match string, when the device has one
	Env       map[string]string
}

// maxUevent bounds a message: the kernel's are at most 2 KiB of
// environment (UEVENT_BUFFER_SIZE) plus the header.
const maxUevent = 8192

// ParseUevent decodes one kernel uevent message. It refuses what is not
// one: udev's re-broadcasts ("libudev" magic), a header without '@', a
// field without '=', a repeated key, an ACTION or DEVPATH field that
// contradicts the header.
func ParseUevent(b []byte) (Uevent, error) {
	if len(b) == 0 {
		return Uevent{}, errors.New("uevent: empty message")
	}
	if len(b) > maxUevent {
		return Uevent{}, fmt.Errorf("uevent: %d bytes, more than %d", len(b), maxUevent)
	}
	if bytes.HasPrefix(b, []byte("libudev\x00")) {
		return Uevent{}, errors.New("uevent: a udev message, not the kernel's")
	}
	fields := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	action, devpath, ok := strings.Cut(fields[0], "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return Uevent{}, fmt.Errorf("uevent: header %q: want ACTION@/DEVPATH", fields[0])
	}
	ev := Uevent{Action: action, DevPath: devpath, Env: map[string]string{}}
	for i, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return Uevent{}, fmt.Errorf("uevent %s: field %d %q: want KEY=VALUE", fields[0], i+1, f)
		}
		if _, dup := ev.Env[k]; dup {
			return Uevent{}, fmt.Errorf("uevent %s: field %s given twice", fields[0], k)
		}
		ev.Env[k] = v
	}
	if a, ok := ev.Env["ACTION"]; ok && a != action {
		return Uevent{}, fmt.Errorf("uevent %s: ACTION=%s contradicts the header", fields[0], a)
	}
	if p, ok := ev.Env["DEVPATH"]; ok && p != devpath {
		return Uevent{}, fmt.Errorf("uevent %s: DEVPATH=%s contradicts the header", fields[0], p)
	}
	ev.Subsystem, ev.DevName, ev.DevType, ev.Modalias = ev.Env["SUBSYSTEM"], ev.Env["DEVNAME"], ev.Env["DEVTYPE"], ev.Env["MODALIAS"]
	if strings.Contains(ev.DevName, "..") {
		return Uevent{}, fmt.Errorf("uevent %s: DEVNAME %q", fields[0], ev.DevName)
	}
	return ev, nil
}

// DiskEvent reports whether ev may have brought the persistent
// partition: a block device added or changed (a card put in a reader).
func (ev Uevent) DiskEvent() bool {
	return ev.Subsystem == "block" && (ev.Action == "add" || ev.Action == "change")
}

// NeedsDriver reports whether ev is a device that a module may drive: a
// device added with a modalias (a USB stick, its SCSI disk).
func (ev Uevent) NeedsDriver() bool {
	return ev.Action == "add" && ev.Modalias != ""
}

// notBeforeDisks are subsystems whose events never lead to a disk: the
// network, consoles and input among them, and a module registering its
// bus or class (the devices on them send their own events). Loading the NIC's driver at
// boot sends a burst of net and queues events; counting them as a
// disk that may still come held the boot for up to FindFAT's 500 ms.
var notBeforeDisks = map[string]bool{
	"net": true, "queues": true, "input": true, "misc": true, "tty": true, "vc": true, "vtconsole": true,
	"mem": true, "graphics": true, "sound": true, "rtc": true, "thermal": true, "hwmon": true, "wakeup": true,
	"power_supply": true, "leds": true, "hidraw": true, "cpu": true, "machinecheck": true, "msr": true,
	"cpuid": true, "event_source": true, "clockevents": true, "clocksource": true, "workqueue": true,
	"rfkill": true, "module": true, "drivers": true, "bus": true, "class": true, "ptp": true, "pps": true,
}

// MayPrecedeDisk reports whether ev is a device's event that may come
// before a disk appears (a USB device, a SCSI host, a block device, or
// any subsystem not known to be unrelated), for FindFAT's settling. A
// NIC's PCI and virtio devices are not: the virtio NIC's add and bind
// otherwise held a diskless boot 0.4 s.
func (ev Uevent) MayPrecedeDisk() bool {
	switch ev.Subsystem {
	case "pci":
		// PCI_CLASS is the 24-bit class in hex: 02xxxx network,
		// 03xxxx display.
		c := ev.Env["PCI_CLASS"]
		return !(len(c) == 5 && (c[0] == '2' || c[0] == '3'))
	case "virtio":
		// Device IDs 1 net, 3 console, 4 entropy, 5 balloon.
		for _, id := range []string{"virtio:d00000001v", "virtio:d00000003v", "virtio:d00000004v", "virtio:d00000005v"} {
			if strings.HasPrefix(ev.Modalias, id) {
				return false
			}
		}
	}
	return !notBeforeDisks[ev.Subsystem]
}
