package ntpserver

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// EnableRxTimestamps asks the kernel to timestamp datagrams received on
// conn, for ReadWithTimestamp.
func EnableRxTimestamps(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// ReadWithTimestamp reads one datagram and the kernel's receive time; when
// the kernel gave none, it reads now instead. oob must hold at least 64
// octets.
func ReadWithTimestamp(conn *net.UDPConn, buf, oob []byte, now func() time.Time) (int, netip.AddrPort, time.Time, error) {
	n, oobn, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		return 0, from, time.Time{}, err
	}
	if info := parseCmsgs(oob[:oobn]); info.rxNs != 0 {
		return n, from, time.Unix(0, info.rxNs), nil
	}
	return n, from, now(), nil
}
