//go:build linux

package qemu_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/internal/persist"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
	"github.com/ntpbox/ntpbox/qemu"
)

// disklessLimit bounds the first reply after /init in this test: well
// under the 14 s of the old 10 s disk wait, with room for a busy
// machine. The figure itself (the target is 5 s: 3.8-5.0 s
// measured under TCG on 2026-12-04) is measured by `make bench`
// (build/bench-vm.sh), not asserted here: timings are benchmarks.
const disklessLimit = 8 * time.Second

// Booted with no disk (-kernel/-initrd) but with a USB controller (the
// old code waited 10 s whenever a USB hub or a CD drive was there), the
// box answers NTP within seconds of the kernel running /init (the
// issue's target is 5 s, measured by make bench). Then a USB
// stick with the disk image's FAT partition is plugged in: init sees it
// through uevents, loads usb-storage and sd_mod, mounts /perm, and
// applies its ntpbox.conf as a reload: the box takes the stick's server
// (the lab's upstream) and serves at its stratum + 1.
func TestDisklessThenLateStick(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "mcopy", "mtype")
	requireDisk(t, img)
	stick := qemu.CopyT(t, img.Disk)
	conf := "server " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0 # the stick's\nmakestep 1 3\n"
	if err := (qemu.DiskFile{Disk: stick, Name: "ntpbox.conf"}).Write([]byte(conf)); err != nil {
		t.Fatal(err)
	}
	lab := qemu.NewLabT(t)
	vm := qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs,
		Append: []string{"ntpbox.address=" + qemu.LabVMAddr + "/24", "ntpbox.allow=all", fmt.Sprintf("ntpbox.local=stratum,%d", wantStratum)},
		Netns:  lab.VMNetns, Tap: lab.Tap,
		QMP:   filepath.Join(t.TempDir(), "qmp.sock"),
		Extra: []string{"-device", "qemu-xhci,id=xhci0"},
	})
	r, at, err := pollReply(lab, vm, bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	runInit, err := vm.Expect("Run /init as init process", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := at - runInit.At
	t.Logf("first NTP reply %.2f s after QEMU started, %.2f s after the kernel ran /init (stratum %d, leap %d)",
		at.Seconds(), after.Seconds(), r.Header.Stratum, r.Header.Leap)
	if after > disklessLimit {
		t.Errorf("first reply %.2f s after /init, want at most %v (the disk wait is back?)", after.Seconds(), disklessLimit)
	}
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, "persistent partition mounted") {
			t.Fatalf("a diskless box mounted /perm: %s", l.Text)
		}
	}
	if _, err := vm.Expect(`no FAT partition labelled NTPBOX yet`, bootTimeout); err != nil {
		t.Fatal(err)
	}

	stopUpstream := lab.UpstreamT(t, 2)
	defer stopUpstream()
	waitUpstream(t, lab)
	if err := vm.QMP("blockdev-add", map[string]any{"driver": "raw", "node-name": "stick",
		"file": map[string]any{"driver": "file", "filename": stick}}); err != nil {
		t.Fatal(err)
	}
	if err := vm.QMP("device_add", map[string]any{"driver": "usb-storage", "bus": "xhci0.0", "drive": "stick", "id": "stick0", "removable": true}); err != nil {
		t.Fatal(err)
	}
	plugged := time.Since(vm.Started)
	for _, want := range []string{"persistent partition mounted", "the persistent partition came after boot",
		"ntpbox: config: server " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0", "config reloaded"} {
		l, err := vm.Expect(want, bootTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%.1f s after the plug: %s", (l.At - plugged).Seconds(), l.Text)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := query(lab, qemu.LabVMAddr)
		if err == nil && r.Header.Stratum == 3 && r.Header.Leap != wire.LeapUnsynchronised {
			t.Logf("synchronised to the stick's server: stratum %d, offset %v", r.Header.Stratum, r.Offset)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not synchronised to the stick's server within 2 min: %v %+v", err, r)
		}
		time.Sleep(500 * time.Millisecond)
	}
	powerOff(t, vm)
}

// A box with no working RTC (-rtc base=1970-01-02) and a last known good
// time on /perm: init steps the clock to that time, the first replies
// say "unsynchronised" (leap 3) with a time no earlier than it, never
// 1970; once synchronised to the lab's upstream, init saves the time
// (at sync, and again at the clean shutdown), and the saved time on
// /perm has advanced to about now.
func TestNoRTCSavedTime(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "mcopy", "mtype")
	requireDisk(t, img)
	// The saved time lies between the image's build time (the clock's
	// other floor) and now, so that the step to it shows and the save
	// after sync moves it on.
	build, err := img.BuildTime()
	if err != nil {
		t.Fatal(err)
	}
	saved := build.Add(time.Since(build) / 2).UTC().Truncate(time.Second)
	if !saved.After(build) {
		t.Fatalf("the image was built %v ago: too recent to place a saved time after it", time.Since(build))
	}
	conf := "address " + qemu.LabVMAddr + "/24\nserver " + qemu.LabHostAddr + " iburst minpoll 0 maxpoll 0\nmakestep 1 3\nallow all\n"
	disk := closetDisk(t, map[string]string{
		"ntpbox.conf": conf,
		"ntpbox.time": string(persist.Encode(1, 1, appliance.EncodeSavedTime(saved))),
	})
	lab := qemu.NewLabT(t)
	vm := qemu.StartT(t, qemu.Config{
		Disk: disk, Netns: lab.VMNetns, Tap: lab.Tap, MAC: closetMAC,
		QMP:   t.TempDir() + "/qmp.sock",
		Extra: []string{"-rtc", "base=1970-01-02"},
	})
	if _, err := vm.Expect(`msg="system clock was before the last known good time: stepped to it"`, bootTimeout); err != nil {
		t.Fatal(err)
	}
	r, _, err := pollReply(lab, vm, bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		served := r.T3
		t.Logf("reply %d: leap %d stratum %d, time %s (saved %s)", i+1, r.Header.Leap, r.Header.Stratum, served.UTC().Format(time.RFC3339), saved.Format(time.RFC3339))
		if r.Header.Leap != wire.LeapUnsynchronised {
			t.Errorf("reply %d: leap %d before any source, want 3", i+1, r.Header.Leap)
		}
		if served.Before(saved) {
			t.Errorf("reply %d: served %v, before the saved time %v", i+1, served.UTC(), saved)
		}
		if i == 2 {
			break
		}
		if r, err = query(lab, qemu.LabVMAddr); err != nil {
			t.Fatal(err)
		}
	}

	stopUpstream := lab.UpstreamT(t, 2)
	defer stopUpstream()
	if _, err := vm.Expect(`msg="last known good time saved"`, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	powerOff(t, vm)
	b, err := qemu.DiskFile{Disk: disk, Name: "ntpbox.time"}.ReadPersisted()
	if err != nil {
		t.Fatal(err)
	}
	got, err := appliance.ParseSavedTime(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("saved time on /perm after sync and shutdown: %s (was %s; now %s)", got.Format(time.RFC3339), saved.Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
	if d := time.Since(got); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("saved time %v, want about now (the synchronised clock)", got)
	}
	var sawSync bool
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, `msg="last known good time saved"`) && strings.Contains(l.Text, "why=synchronised") {
			sawSync = true
		}
	}
	if !sawSync {
		t.Error("no save at synchronisation on the console")
	}
}
