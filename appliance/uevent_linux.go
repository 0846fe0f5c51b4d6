//go:build linux

package appliance

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WatchDisks opens a NETLINK_KOBJECT_UEVENT socket (the kernel's
// multicast group 1, which udev would listen to) and follows it until
// ctx ends: a device added with a modalias gets its driver loaded
// ([Linux.LoadDrivers], once the burst of events has passed: a USB
// stick, then its SCSI disk), and a block device added or changed is
// reported on the channel (coalesced: one pending report at most). When
// the socket overflows (ENOBUFS: events were lost), drivers are loaded
// and a report is sent all the same, so that nothing waits for an event
// that was dropped.
func (l *Linux) WatchDisks(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, err
	}
	// A burst at driver load is hundreds of events; 1 MiB holds them.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20)
	// A timeout, so that the loop sees ctx end and loads the drivers a
	// burst asked for once it is over.
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	out := make(chan struct{}, 1)
	notify := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer unix.Close(fd)
		defer func() {
			if r := recover(); r != nil {
				l.Log.Error("panic", "in", "uevent watcher", "panic", r)
			}
		}()
		// Drivers load in their own goroutine: a load waits for boot's
		// LoadDrivers to end, and events read late are stamped late,
		// which held FindFAT's settling 0.5 s at every diskless boot.
		loads := make(chan struct{}, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					l.Log.Error("panic", "in", "hot-plug driver loading", "panic", r)
				}
			}()
			for {
				select {
				case <-loads:
					l.loadHotplugDrivers()
				case <-ctx.Done():
					return
				}
			}
		}()
		buf := make([]byte, 64<<10)
		var loadAt time.Time // a driver load is due then
		for ctx.Err() == nil {
			if !loadAt.IsZero() && !time.Now().Before(loadAt) {
				loadAt = time.Time{}
				select {
				case loads <- struct{}{}:
				default: // one is due already
				}
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			switch {
			case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.ENOBUFS):
				l.Log.Warn("uevents lost (the socket overflowed): loading drivers and looking for the disk again")
				loadAt = time.Now()
				notify()
				continue
			case err != nil:
				l.Log.Error("uevent socket: no more hot-plugged disks are seen", "err", err)
				return
			}
			if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
				continue // only the kernel's own
			}
			ev, err := ParseUevent(buf[:n])
			if err != nil {
				l.Log.Debug("uevent ignored", "err", err)
				continue
			}
			if ev.MayPrecedeDisk() && !boundNIC(ev) {
				l.lastEvent.Store(time.Now().UnixNano())
			}
			if ev.NeedsDriver() {
				// Drivers are loaded once the burst is over: 200 ms
				// after its last such event.
				loadAt = time.Now().Add(200 * time.Millisecond)
			}
			if ev.DiskEvent() {
				notify()
			}
		}
	}()
	return out, nil
}

// loadHotplugDrivers loads the drivers of devices that came after boot.
func (l *Linux) loadHotplugDrivers() {
	mods, err := l.LoadDrivers()
	if len(mods) > 0 {
		l.Log.Info("drivers loaded for new devices", "modules", mods)
	}
	if err != nil {
		l.Log.Warn("load drivers for new devices", "err", err)
	}
}

// boundNIC reports whether ev is a driver binding to a network device
// (virtio_net to the NIC's virtio device): no disk follows it.
func boundNIC(ev Uevent) bool {
	if ev.Action != "bind" || ev.DevPath == "" || strings.Contains(ev.DevPath, "..") {
		return false
	}
	_, err := os.Stat("/sys" + ev.DevPath + "/net")
	return err == nil
}
