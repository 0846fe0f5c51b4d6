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
