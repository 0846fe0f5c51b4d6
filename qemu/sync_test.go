//go:build linux

package qemu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// Sync test bounds: the guest must serve stratum 3 within maxOffset of
// the host's clock no later than syncWithin after it first serves.
const (
	syncWithin = 60 * time.Second
	maxOffset  = time.Millisecond
)

// The guest boots with its RTC (and so, through the kernel's hctosys, its
// system clock) an hour slow. An upstream server on the host side
// (chronyd -x at 198.18.0.1, stratum 2, serving the host's clock) is its
// only reachable source; the baked `pool pool.ntp.org` cannot be resolved
// in the lab. ntpbox in the guest steps its clock (makestep 1 3), keeps it
// disciplined, and serves stratum 3; ntpdig in the client namespace
// measures it against the host's clock.
func TestGuestClockSyncsToUpstream(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "ntpdig", "chronyd", "setpriv")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)

	// Init steps a clock earlier than the image's build time up to it:
	// with an image built in the last hour, the daemon's step is smaller.
	floor, err := img.BuildTime()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour)
	wantStep := time.Hour
	if base.Before(floor) {
		wantStep = time.Since(floor)
		t.Logf("the image was built %v ago: init steps the clock to its build time first", wantStep.Round(time.Second))
	}
	rtc := base.Format("2006-01-02T15:04:05")
	vm := startSyncGuest(t, img, lab, "-rtc", "base="+rtc)
	r, at := firstReply(t, lab, vm)
	t.Logf("first NTP reply %.2f s after QEMU started: stratum %d offset %v (RTC base %s UTC)",
		at.Seconds(), r.Header.Stratum, r.Offset.Round(time.Millisecond), rtc)
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	// The guest's clock started an hour slow, from its RTC: the daemon
	// steps it by about an hour (less the step init made).
	if wantStep > 10*time.Second {
		l, err := vm.Expect(`msg="clock stepped"`, syncWithin)
		if err != nil {
			t.Fatal(err)
		}
		if step := logDuration(l.Text, "step="); step < wantStep-time.Minute || step > wantStep+time.Minute {
			t.Errorf("clock stepped by %v, want about %v: %s", step, wantStep.Round(time.Second), l.Text)
		}
	}

	waitSynced(t, lab, vm, at)
}

// startSyncGuest boots the image at LabVMAddr with the lab's upstream as
// its only server (polled every second) and `makestep 1 3`; extra are
// more QEMU arguments.
func startSyncGuest(t *testing.T, img qemu.Image, lab *qemu.Lab, extra ...string) *qemu.VM {
	return qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs,
		Append: []string{
			"ntpbox.address=" + qemu.LabVMAddr + "/24",
			"ntpbox.allow=all",
			"ntpbox.server=" + qemu.LabHostAddr + ",iburst,minpoll,0,maxpoll,0",
			"ntpbox.makestep=1,3",
		},
		Netns: lab.VMNetns, Tap: lab.Tap,
		Extra: extra,
	})
}

// waitSynced polls the VM from the client namespace until it serves
// stratum 3 within maxOffset of the host's clock (median of 5 ntpdig),
// no later than syncWithin after its first reply at at.
func waitSynced(t *testing.T, lab *qemu.Lab, vm *qemu.VM, at time.Duration) {
	t.Helper()
	deadline := at + syncWithin
	var last string
	for time.Since(vm.Started) < deadline {
		st, off, err := digMedian(lab, 5)
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("stratum %d, median offset %v", st, off)
			if st == 3 && off.Abs() < maxOffset {
				t.Logf("synchronised %.1f s after QEMU started (%.1f s after the first reply): %s",
					time.Since(vm.Started).Seconds(), (time.Since(vm.Started) - at).Seconds(), last)
				return
			}
		}
		t.Logf("%.1f s: %s", time.Since(vm.Started).Seconds(), last)
		select {
		case <-vm.Done():
			t.Fatalf("QEMU exited: %v", vm.Wait(0))
		case <-time.After(2 * time.Second):
		}
	}
	t.Fatalf("not serving stratum 3 within %v of the host's clock %v after the first reply; last: %s",
		maxOffset, syncWithin, last)
}

// waitUpstream polls the lab's upstream server until it serves.
func waitUpstream(t *testing.T, lab *qemu.Lab) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		r, err := ntpserver.Query(ctx, lab.DialClient, qemu.LabHostAddr+":123", 4, time.Now)
		cancel()
		if err == nil && r.Synchronised() {
			t.Logf("upstream serves stratum %d", r.Header.Stratum)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream at %s not serving: %v", qemu.LabHostAddr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// digMedian runs ntpdig against the VM n times and returns the stratum
// of the last reply and the median offset: under TCG one measurement can
// be off by a millisecond or more.
func digMedian(lab *qemu.Lab, n int) (stratum int, offset time.Duration, err error) {
	var offs []float64
	for range n {
		out, err := lab.Client("ntpdig", "-j", "-t", "1", qemu.LabVMAddr).CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("ntpdig: %v: %s", err, out)
		}
		var dig struct {
			Stratum int     `json:"stratum"`
			Offset  float64 `json:"offset"`
		}
		if err := json.Unmarshal(out, &dig); err != nil {
			return 0, 0, fmt.Errorf("ntpdig -j: %v: %s", err, out)
		}
		stratum = dig.Stratum
		offs = append(offs, dig.Offset)
	}
	slices.Sort(offs)
	med := offs[len(offs)/2]
	return stratum, time.Duration(math.Round(med * 1e9)), nil
}

// logDuration returns the duration after key in a slog text line, or 0.
func logDuration(line, key string) time.Duration {
	_, v, ok := strings.Cut(line, key)
	if !ok {
		return 0
	}
	v, _, _ = strings.Cut(v, " ")
	d, _ := time.ParseDuration(v)
	return d
}

// The guest boots with the RTC right to the second (QEMU's default), so
// its clock is off by the fraction of a second the RTC cannot hold: less
// than the makestep threshold of 1 s. The daemon slews that away, as
// chronyd does, fast (the kernel's tick, up to 83333 ppm), not at the
// 500 ppm a frequency correction alone allows, which takes minutes: the
// guest serves within 1 ms of the host without stepping.
func TestGuestSlewsSubsecondOffset(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "ntpdig", "chronyd", "setpriv")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	vm := startSyncGuest(t, img, lab)
	r, at := firstReply(t, lab, vm)
	t.Logf("first NTP reply %.2f s after QEMU started: stratum %d offset %v", at.Seconds(), r.Header.Stratum, r.Offset)
	waitSynced(t, lab, vm, at)
	for _, l := range vm.Lines() {
		// The RTC's whole seconds and the boot's own delay can make it a
		// little over 1 s: then makestep steps, rightly.
		if strings.Contains(l.Text, `msg="clock stepped"`) && r.Offset.Abs() < 900*time.Millisecond {
			t.Errorf("the clock was stepped, not slewed, though the first reply was %v off: %s", r.Offset, l.Text)
		}
		// The slew must be accounted for exactly: the upstream never
		// steps, so a "source stepped" is the box misreading its own
		// fast slew.
		if strings.Contains(l.Text, `source stepped`) {
			t.Errorf("the box took its own slew for a step of the upstream: %s", l.Text)
		}
	}
}
