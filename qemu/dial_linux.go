//go:build linux

package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialClient dials from the client namespace: the socket is made on a
// thread that has entered it, and stays there. It has the signature of
// ntpserver.DialFunc.
func (l *Lab) DialClient(ctx context.Context, network, address string) (net.Conn, error) {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + l.ClientNetns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("setns %s: %w", l.ClientNetns, err)
	}
	var d net.Dialer
	c, dialErr := d.DialContext(ctx, network, address)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime ends it with this goroutine.
		return c, dialErr
	}
	runtime.UnlockOSThread()
	return c, dialErr
}
