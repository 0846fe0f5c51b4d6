//go:build linux

package qemu_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/internal/browser"
	"github.com/ntpbox/ntpbox/qemu"
)

var screenshots = flag.String("screenshots", "", "save the status page's screenshots in `dir` (status-page-WIDTH.png)")

// TestStatusPageFromLAN boots the image (the appliance serves `http lan`
// by default, on port 80) and loads http://BOX/ in a real headless
// Chromium in the LAN's client namespace: the sources table and the three
// plots are there, the page made no request but itself, none failed and
// the console is silent. It logs how long the load took, from the first
// byte asked to the load event.
func TestStatusPageFromLAN(t *testing.T) {
	qemu.RequireT(t, qemu.FindImage(), browser.Chromium)
	lab, vm := bootLab(t, "virtio-net-pci", 256)
	firstReply(t, lab, vm)
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	waitWeb(t, vm)
	url := "http://" + qemu.LabVMAddr + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	load := func(shots ...int) *browser.Result {
		t.Helper()
		start := time.Now()
		r, err := browser.Load(ctx, browser.Options{
			URL: url, Width: 412, Screenshots: shots,
			Command: func(name string, args ...string) *exec.Cmd { return lab.Client(name, args...) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := browser.CheckStatusPage(r, url); err != nil {
			t.Errorf("%s: %v", url, err)
		}
		t.Logf("%s: first byte %v, last byte %v, load event done %v, %d bytes; Chromium's start and stop included %v",
			url, r.Timing.ResponseStart, r.Timing.ResponseEnd, r.Timing.LoadEnd, r.Timing.TransferSize, time.Since(start).Round(time.Millisecond))
		return r
	}
	// The first load; then a second, for the screenshots, once the box
	// has answered some NTP requests from the LAN.
	load()
	firstReply(t, lab, vm)
	r := load(412, 1280)
	if *screenshots != "" {
		for w, png := range r.Screenshots {
			p := filepath.Join(*screenshots, "status-page-"+strconv.Itoa(w)+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
}

// webListening is the web service's log line once it listens.
const webListening = `msg="http: status page and /metrics"`

// waitWeb waits until the web service listens. It starts once NTP
// listens (or 2 s after NTP started), so "serving" comes before it.
func waitWeb(t *testing.T, vm *qemu.VM) {
	t.Helper()
	if _, err := discWaitLine(vm, webListening, bootTimeout); err != nil {
		t.Fatal(err)
	}
}
