package dhcpopt

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
)

// ARP over Ethernet for IPv4 (RFC 826), the payload an AF_PACKET
// SOCK_DGRAM socket reads and writes: the link-layer header is the
// kernel's business.
const (
	arpLen       = 28
	arpHWEther   = 1
	arpProtoIPv4 = 0x0800
	// ARP operations.
	arpRequest = 1
	arpReply   = 2
)

// errNotARP is returned by parseARP for anything but an Ethernet/IPv4 ARP
// request or reply.
var errNotARP = errors.New("not an Ethernet/IPv4 ARP request or reply")

// arpPacket is an Ethernet/IPv4 ARP request or reply.
type arpPacket struct {
	Op       uint16
	SenderHW net.HardwareAddr
	SenderIP netip.Addr
	TargetHW net.HardwareAddr
	TargetIP netip.Addr
}

// whoHas is the request "who has target? tell senderIP (at senderHW)".
func whoHas(senderHW net.HardwareAddr, senderIP, target netip.Addr) arpPacket {
	return arpPacket{Op: arpRequest, SenderHW: senderHW, SenderIP: senderIP,
		TargetHW: make(net.HardwareAddr, 6), TargetIP: target}
}

// marshal encodes p; hardware addresses that are not 6 bytes and
// addresses that are not IPv4 are written as zeros.
func (p arpPacket) marshal() []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[0:], arpHWEther)
	binary.BigEndian.PutUint16(b[2:], arpProtoIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], p.Op)
	put := func(off int, hw net.HardwareAddr, a netip.Addr) {
		if len(hw) == 6 {
			copy(b[off:], hw)
		}
		if a.Is4() {
			v := a.As4()
			copy(b[off+6:], v[:])
		}
	}
	put(8, p.SenderHW, p.SenderIP)
	put(18, p.TargetHW, p.TargetIP)
	return b
}

// parseARP decodes an Ethernet/IPv4 ARP request or reply. Bytes after the
// 28 of the packet (Ethernet padding) are ignored.
func parseARP(b []byte) (arpPacket, error) {
	if len(b) < arpLen ||
		binary.BigEndian.Uint16(b[0:]) != arpHWEther ||
		binary.BigEndian.Uint16(b[2:]) != arpProtoIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return arpPacket{}, errNotARP
	}
	op := binary.BigEndian.Uint16(b[6:])
	if op != arpRequest && op != arpReply {
		return arpPacket{}, errNotARP
	}
	return arpPacket{
		Op:       op,
		SenderHW: append(net.HardwareAddr(nil), b[8:14]...),
		SenderIP: netip.AddrFrom4([4]byte(b[14:18])),
		TargetHW: append(net.HardwareAddr(nil), b[18:24]...),
		TargetIP: netip.AddrFrom4([4]byte(b[24:28])),
	}, nil
}

// claims reports whether p shows another host using a: a reply from a, or
// a request (a gratuitous ARP, an announcement, any query) sent from a. An
// RFC 5227 probe, sent from 0.0.0.0 by a host that only wants a, and our
// own request, sent from self, claim nothing.
func (p arpPacket) claims(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && p.SenderIP == a
}
