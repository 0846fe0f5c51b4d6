//go:build !linux

package ntpserver

import (
	"net"
	"net/netip"
	"time"
)

// EnableRxTimestamps is a no-op where the kernel has no SO_TIMESTAMPNS.
func EnableRxTimestamps(conn *net.UDPConn) error { return nil }

// ReadWithTimestamp reads one datagram and stamps it with now.
func ReadWithTimestamp(conn *net.UDPConn, buf, oob []byte, now func() time.Time) (int, netip.AddrPort, time.Time, error) {
	n, _, _, from, err := conn.ReadMsgUDPAddrPort(buf, oob)
	return n, from, now(), err
}
