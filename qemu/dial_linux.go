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
	var c net.Conn
	err := InNetns(l.ClientNetns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// InNetns runs fn on a thread that has entered the named network
// namespace (/var/run/netns/NAME): sockets fn opens stay in it.
func InNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime ends it with this goroutine.
		return fnErr
	}
	runtime.UnlockOSThread()
	return fnErr
}
