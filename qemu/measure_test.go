//go:build linux

package qemu_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// TestMeasure boots the image with less and less memory and prints, for
// each size, whether it served and when the first NTP reply came. It
// runs only with NTPBOX_MEASURE=1 (a few minutes under TCG):
//
//	NTPBOX_MEASURE=1 go test -run Measure -v ./qemu
//
// NTPBOX_MEASURE_MEM lists the sizes in MiB (default 256,160,128,112,96,88,80).
func TestMeasure(t *testing.T) {
	if os.Getenv("NTPBOX_MEASURE") != "1" {
		t.Skip("set NTPBOX_MEASURE=1 to measure boot time and memory")
	}
	sizes := []int{256, 160, 128, 112, 96, 88, 80}
	if s := os.Getenv("NTPBOX_MEASURE_MEM"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	var report []string
	for _, mem := range sizes {
		t.Run(fmt.Sprintf("%dMiB", mem), func(t *testing.T) {
			img := qemu.FindImage()
			qemu.RequireT(t, img)
			lab := qemu.NewLabT(t)
			vm := qemu.StartT(t, qemu.Config{
				Kernel: img.Kernel, Initramfs: img.Initramfs, MemoryMiB: mem,
				Append: []string{"ntpbox.address=" + qemu.LabVMAddr + "/24", "ntpbox.allow=all"},
				Netns:  lab.VMNetns, Tap: lab.Tap,
				Console: func(time.Duration, string) {},
			})
			_, at, err := pollReply(lab, vm, 90*time.Second)
			if err != nil {
				last := vm.Lines()
				if len(last) > 3 {
					last = last[len(last)-3:]
				}
				report = append(report, fmt.Sprintf("-m %4d: no reply (%v); console ends %q", mem, err, last))
				return
			}
			report = append(report, fmt.Sprintf("-m %4d: first NTP reply %.2f s after QEMU started", mem, at.Seconds()))
		})
	}
	t.Logf("\n%s", strings.Join(report, "\n"))
}
