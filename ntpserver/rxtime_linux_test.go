package ntpserver

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// readOne sends one datagram to dst through a socket at from and reads it
// on conn.
func readOne(t *testing.T, conn *net.UDPConn, from string, dst netip.AddrPort) (netip.AddrPort, netip.Addr, time.Time) {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(from), 0)))
	if err != nil {
		t.Skipf("no %s on this host: %v", from, err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort([]byte("ping"), dst); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf, oob := make([]byte, 64), make([]byte, 128)
	fallback := time.Unix(1, 0)
	n, src, local, rx, err := ReadWithTimestamp(conn, buf, oob, func() time.Time { return fallback })
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "ping" {
		t.Errorf("read %q", buf[:n])
	}
	if want := c.LocalAddr().(*net.UDPAddr).AddrPort(); src.Addr().Unmap() != want.Addr() || src.Port() != want.Port() {
		t.Errorf("from %v, want %v", src, want)
	}
	return src, local, rx
}

// The upstream sync's sockets are wildcards: the destination address of
// a reply (our address towards the source, for orphan mode and the
// sync-loop check) comes from the packet-info message.
func TestReadWithTimestampLocalAddr(t *testing.T) {
	for _, tc := range []struct {
		network, from, to string
	}{
		{"udp4", "127.0.0.1", "127.0.0.2"},
		{"udp6", "::1", "::1"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			conn, err := net.ListenUDP(tc.network, nil)
			if err != nil {
				t.Skipf("no %s: %v", tc.network, err)
			}
			defer conn.Close()
			if err := EnableRxInfo(conn); err != nil {
				t.Fatal(err)
			}
			dst := netip.AddrPortFrom(netip.MustParseAddr(tc.to), conn.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			_, local, rx := readOne(t, conn, tc.from, dst)
			if local != dst.Addr() {
				t.Errorf("local address %v, want %v", local, dst.Addr())
			}
			if d := time.Since(rx); d < 0 || d > 2*time.Second {
				t.Errorf("kernel receive time %v is %v from now", rx, d)
			}
		})
	}
}

// Without packet info the local address is the socket's own if it is
// bound to one, and unknown for a wildcard socket.
func TestReadWithTimestampNoPacketInfo(t *testing.T) {
	bound, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	_, local, rx := readOne(t, bound, "127.0.0.1", bound.LocalAddr().(*net.UDPAddr).AddrPort())
	if local != netip.MustParseAddr("127.0.0.3") {
		t.Errorf("bound socket: local %v", local)
	}
	if rx != time.Unix(1, 0) {
		t.Errorf("without kernel timestamps the time is now(): got %v", rx)
	}
	wild, err := net.ListenUDP("udp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), wild.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	if _, local, _ := readOne(t, wild, "127.0.0.1", dst); local.IsValid() {
		t.Errorf("wildcard socket without packet info: local %v, want unknown", local)
	}
}
