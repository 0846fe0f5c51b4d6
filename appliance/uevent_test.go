package appliance

import (
	"strings"
	"testing"
)

func uev(fields ...string) []byte { return []byte(strings.Join(fields, "\x00") + "\x00") }

func TestParseUevent(t *testing.T) {
	ev, err := ParseUevent(uev("add@/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1",
		"ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1",
		"SUBSYSTEM=block", "MAJOR=8", "MINOR=1", "DEVNAME=sda1", "DEVTYPE=partition", "PARTN=1", "SEQNUM=1234"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "add" || ev.Subsystem != "block" || ev.DevName != "sda1" || ev.DevType != "partition" || ev.Env["SEQNUM"] != "1234" {
		t.Errorf("got %+v", ev)
	}
	if !ev.DiskEvent() || ev.NeedsDriver() {
		t.Errorf("a partition added: DiskEvent %v NeedsDriver %v", ev.DiskEvent(), ev.NeedsDriver())
	}

	usb, err := ParseUevent(uev("add@/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0", "ACTION=add",
		"DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0", "SUBSYSTEM=usb", "DEVTYPE=usb_interface",
		"MODALIAS=usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00", "SEQNUM=99"))
	if err != nil {
		t.Fatal(err)
	}
	if usb.DiskEvent() || !usb.NeedsDriver() || usb.Modalias != "usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00" {
		t.Errorf("a USB interface: %+v DiskEvent %v NeedsDriver %v", usb, usb.DiskEvent(), usb.NeedsDriver())
	}
	// No trailing NUL (some kernels' last field) is as good.
	if _, err := ParseUevent([]byte("change@/devices/virtual/block/loop0\x00ACTION=change\x00SUBSYSTEM=block")); err != nil {
		t.Error(err)
	}
	rm, err := ParseUevent(uev("remove@/devices/x/block/sdb", "ACTION=remove", "SUBSYSTEM=block", "DEVNAME=sdb"))
	if err != nil || rm.DiskEvent() {
		t.Errorf("remove: %+v %v", rm, err)
	}
}

func TestParseUeventRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"udev", append([]byte("libudev\x00"), uev("add@/devices/x", "ACTION=add")...), "udev"},
		{"no at", uev("add /devices/x", "ACTION=add"), "want ACTION@/DEVPATH"},
		{"relative path", uev("add@devices/x", "ACTION=add"), "want ACTION@/DEVPATH"},
		{"no action", uev("@/devices/x"), "want ACTION@/DEVPATH"},
		{"no equals", uev("add@/devices/x", "ACTION"), "want KEY=VALUE"},
		{"empty key", uev("add@/devices/x", "=add"), "want KEY=VALUE"},
		{"empty field", []byte("add@/devices/x\x00\x00ACTION=add\x00"), "want KEY=VALUE"},
		{"twice", uev("add@/devices/x", "SUBSYSTEM=block", "SUBSYSTEM=usb"), "given twice"},
		{"action", uev("add@/devices/x", "ACTION=remove"), "contradicts"},
		{"devpath", uev("add@/devices/x", "DEVPATH=/devices/y"), "contradicts"},
		{"devname", uev("add@/devices/x", "DEVNAME=../etc/passwd"), "DEVNAME"},
		{"huge", append([]byte("add@/devices/x\x00A="), make([]byte, maxUevent)...), "more than"},
	} {
		if _, err := ParseUevent(tc.msg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

func FuzzUevent(f *testing.F) {
	f.Add(uev("add@/devices/x/block/sda/sda1", "ACTION=add", "SUBSYSTEM=block", "DEVNAME=sda1", "SEQNUM=1"))
	f.Add(uev("add@/devices/x/1-1:1.0", "ACTION=add", "SUBSYSTEM=usb", "MODALIAS=usb:v46F4p0001"))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseUevent(b)
		if err != nil {
			return
		}
		if ev.Action == "" || !strings.HasPrefix(ev.DevPath, "/") || strings.Contains(ev.DevName, "..") {
			t.Fatalf("accepted %q as %+v", b, ev)
		}
		for k := range ev.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				t.Fatalf("key %q from %q", k, b)
			}
		}
	})
}

// The NIC's, the console's and the input devices' events do not hold
// FindFAT's settling; a USB device's, a SCSI host's, a block device's
// and an unknown subsystem's do.
func TestMayPrecedeDisk(t *testing.T) {
	for sub, want := range map[string]bool{
		"usb": true, "scsi": true, "scsi_host": true, "block": true, "pci": true, "nvme": true, "mmc_host": true,
		"virtio": true, "platform": true, "some_new_bus": true,
		"net": false, "queues": false, "input": false, "tty": false, "module": false, "drivers": false, "bus": false, "class": false,
	} {
		ev, err := ParseUevent(uev("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM="+sub))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.MayPrecedeDisk(); got != want {
			t.Errorf("%s: MayPrecedeDisk = %v, want %v", sub, got, want)
		}
	}
	for _, tc := range []struct {
		fields []string
		want   bool
	}{
		{[]string{"SUBSYSTEM=pci", "PCI_CLASS=20000", "MODALIAS=pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"}, false}, // virtio NIC
		{[]string{"SUBSYSTEM=pci", "PCI_CLASS=30000"}, false},                                                                   // VGA
		{[]string{"SUBSYSTEM=pci", "PCI_CLASS=10601"}, true},                                                                    // AHCI
		{[]string{"SUBSYSTEM=pci", "PCI_CLASS=C0330"}, true},                                                                    // xHCI
		{[]string{"SUBSYSTEM=pci"}, true},
		{[]string{"SUBSYSTEM=virtio", "MODALIAS=virtio:d00000001v00001AF4"}, false}, // net
		{[]string{"SUBSYSTEM=virtio", "MODALIAS=virtio:d00000002v00001AF4"}, true},  // block
		{[]string{"SUBSYSTEM=virtio", "MODALIAS=virtio:d00000008v00001AF4"}, true},  // SCSI
	} {
		ev, err := ParseUevent(uev(append([]string{"bind@/devices/x", "ACTION=bind", "DEVPATH=/devices/x"}, tc.fields...)...))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.MayPrecedeDisk(); got != tc.want {
			t.Errorf("%v: MayPrecedeDisk = %v, want %v", tc.fields, got, tc.want)
		}
	}
}
