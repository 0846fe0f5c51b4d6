//go:build linux

package appliance

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// PowerButton watches every input device the kernel calls "Power Button"
// (the ACPI button driver's, from the button module, read through evdev):
// the channel receives when one is pressed. QEMU's system_powerdown
// presses it. The channel is nil when there is no such device.
func (l *Linux) PowerButton(ctx context.Context) <-chan struct{} {
	names, _ := filepath.Glob("/sys/class/input/event*/device/name")
	var ch chan struct{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil || !strings.EqualFold(trimName(b), "Power Button") {
			continue
		}
		dev := "/dev/input/" + filepath.Base(filepath.Dir(filepath.Dir(n)))
		f, err := os.Open(dev)
		if err != nil {
			l.Log.Warn("open power button", "device", dev, "err", err)
			continue
		}
		if ch == nil {
			ch = make(chan struct{}, 1)
		}
		l.Log.Info("watching the power button", "device", dev)
		go l.readButton(ctx, f, ch)
	}
	return ch
}

func (l *Linux) readButton(ctx context.Context, f *os.File, ch chan<- struct{}) {
	defer f.Close()
	defer func() {
		if r := recover(); r != nil {
			l.Log.Error("panic", "in", "power button", "panic", r)
		}
	}()
	ev := make([]byte, inputEventSize)
	for ctx.Err() == nil {
		if _, err := io.ReadFull(f, ev); err != nil {
			l.Log.Warn("read power button", "err", err)
			return
		}
		if isPowerPress(ev) {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
