package ntpserver

import (
	"net"
	"net/netip"
	"time"
)

// EnableRxInfo asks the kernel to report, with each datagram received on
// conn, its receive time (SO_TIMESTAMPNS) and the local address it was
// sent to (IP_PKTINFO, IPV6_RECVPKTINFO), for ReadWithTimestamp.
func EnableRxInfo(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	v6 := false
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		v6 = la.IP.To4() == nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = enableRxInfo(fd, v6) }); err != nil {
		return err
	}
	return serr
}

// ReadWithTimestamp reads one datagram into buf and returns its length,
// its sender, the local address it was sent to and the kernel's receive
// time. Without a receive time from the kernel it reads now instead;
// without a destination address (EnableRxInfo not called, or the datagram
// queued before) local is the socket's own address when it is bound to
// one, else invalid. oob must hold at least 128 octets. Unlike the
// server's batched loop this path allocates; it is for the few replies
// the upstream sync reads.
func ReadWithTimestamp(conn *net.UDPConn, buf, oob []byte, now func() time.Time) (n int, from netip.AddrPort, local netip.Addr, rx time.Time, err error) {
	n, oobn, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		return 0, from, netip.Addr{}, time.Time{}, err
	}
	info := parseCmsgs(oob[:oobn])
	switch {
	case info.v4:
		local = netip.AddrFrom4(info.dst4)
	case info.v6:
		local = netip.AddrFrom16(info.dst6).Unmap()
	default:
		local = boundAddr(conn)
	}
	rx = now()
	if info.rxNs != 0 {
		rx = time.Unix(0, info.rxNs)
	}
	return n, from, local, rx, nil
}

// boundAddr is the address conn is bound to, or the zero Addr for a
// wildcard socket.
func boundAddr(conn *net.UDPConn) netip.Addr {
	la, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}
	}
	a := la.AddrPort().Addr().Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
