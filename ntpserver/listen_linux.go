package ntpserver

import (
	"errors"

	"golang.org/x/sys/unix"
)

// setReusePort lets several sockets share an address (one per core),
// and lets a socket bind to an address the box does not have yet
// (IP_FREEBIND): a `bindaddress` that a DHCP lease brings later is
// served from the moment it arrives, without a restart.
func setReusePort(fd uintptr) error {
	return errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1),
		unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1))
}

func noIPv6(err error) bool {
	return errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EADDRNOTAVAIL)
}
