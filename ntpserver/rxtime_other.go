//go:build !linux

package ntpserver

import (
	"net"
	"net/netip"
	"time"
)

// EnableRxInfo is a no-op where the kernel has no SO_TIMESTAMPNS and
// IP_PKTINFO.
func EnableRxInfo(conn *net.UDPConn) error { return nil }

// ReadWithTimestamp reads one datagram and stamps it with now. The local
// address is the socket's own when it is bound to one, else invalid.
func ReadWithTimestamp(conn *net.UDPConn, buf, oob []byte, now func() time.Time) (n int, from netip.AddrPort, local netip.Addr, rx time.Time, err error) {
	n, _, _, from, err = conn.ReadMsgUDPAddrPort(buf, oob)
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		if a := la.AddrPort().Addr().Unmap(); !a.IsUnspecified() {
			local = a
		}
	}
	return n, from, local, now(), err
}
