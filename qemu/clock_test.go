//go:build linux

package qemu_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// An RTC that reads 2001 (a dead battery) is implausible: init steps the
// clock to the image's build time, says so on the console, and the box
// serves a time no earlier than that.
func TestRTCBeforeBuildTimeIsStepped(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "setpriv")
	floor, err := img.BuildTime()
	if err != nil {
		t.Fatal(err)
	}
	lab := qemu.NewLabT(t)
	vm := qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs,
		Append: []string{"ntpbox.address=" + qemu.LabVMAddr + "/24", "ntpbox.allow=all", "ntpbox.local=stratum,12"},
		Netns:  lab.VMNetns, Tap: lab.Tap,
		Extra: []string{"-rtc", "base=2001-01-01T00:00:00"},
	})
	want := `msg="system clock was before the image's build time: stepped to it" component=init from=2001-01-01T00:00:0`
	l, err := vm.Expect(want, bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if to := "to=" + floor.Format(time.RFC3339); !strings.Contains(l.Text+" ", to+" ") {
		t.Errorf("init's step %q does not say %s", l.Text, to)
	}
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ntpserver.Query(ctx, lab.DialClient, qemu.LabVMAddr+":123", 4, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// The guest's time is its clock's: the build time plus its uptime.
	if served := time.Now().Add(r.Offset); served.Before(floor) || served.After(floor.Add(bootTimeout)) {
		t.Errorf("served %v, want just after the build time %v", served.UTC(), floor)
	}
	vm.Kill()
}
