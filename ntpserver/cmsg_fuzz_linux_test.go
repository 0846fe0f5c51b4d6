package ntpserver

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsg builds one control message with the header's length field.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafePointer(b))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// FuzzCmsg: the control-message parsers (receive info, transmit
// timestamps from the error queue) never panic or read past the buffer,
// whatever the kernel, or a bug, hands them.
func FuzzCmsg(f *testing.F) {
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts, 1796000000)
	binary.NativeEndian.PutUint64(ts[8:], 123456789)
	pkt4 := make([]byte, unix.SizeofInet4Pktinfo)
	pkt6 := make([]byte, unix.SizeofInet6Pktinfo)
	ee := make([]byte, 16)
	ee[4] = unix.SO_EE_ORIGIN_TIMESTAMPING
	f.Add(append(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts), cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, pkt4)...))
	f.Add(cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pkt6))
	f.Add(append(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPING, append(ts, make([]byte, 32)...)), cmsg(unix.IPPROTO_IP, unix.IP_RECVERR, ee)...))
	f.Add(append(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts), cmsg(unix.IPPROTO_IPV6, unix.IPV6_RECVERR, ee)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 35, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		// The kernel's buffers are 8-byte aligned; so is this copy.
		buf := make([]uint64, (len(b)+7)/8)
		al := unsafeBytes(buf, len(b))
		copy(al, b)
		parseCmsgs(al)
		parseTxTimestamp(al)
		parseTxReport(al)
	})
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// unsafeBytes views the first n bytes of an aligned []uint64.
func unsafeBytes(buf []uint64, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), n)
}
