package dhcpopt

import (
	"net"
	"net/netip"
	"slices"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// ProbeHWAddr is the client hardware address (chaddr) of the DHCPDISCOVER
// that [ProbeServers] broadcasts to find other DHCP servers on the LAN,
// from an interface without a MAC address. It is locally administered
// (02:...) and spells "ntpbx".
var ProbeHWAddr = net.HardwareAddr{0x02, 0x6e, 0x74, 0x70, 0x62, 0x78}

// ProbeHWAddrFor is the probe's chaddr on an interface with hardware
// address mac: "02:6e:74" and mac's last three octets, so that each box
// probes from its own address. A [Handler] whose Config.ProbeHW is that
// address ignores its own box's probe, and answers another box's: an
// ntpbox that leases is a DHCP server like any other to the next one.
func ProbeHWAddrFor(mac net.HardwareAddr) net.HardwareAddr {
	if len(mac) != 6 {
		return slices.Clone(ProbeHWAddr)
	}
	return net.HardwareAddr{0x02, 0x6e, 0x74, mac[3], mac[4], mac[5]}
}

// isProbe reports whether req comes from the probe address hw.
func isProbe(req *dhcpv4.DHCPv4, hw net.HardwareAddr) bool {
	return slices.Equal(req.ClientHWAddr, hw)
}

// newProbe builds the probe's DHCPDISCOVER: chaddr hw, the
// broadcast flag so that offers reach us although nobody owns that
// hardware address, and a parameter request list like a real client's.
func newProbe(xid dhcpv4.TransactionID, hw net.HardwareAddr) (*dhcpv4.DHCPv4, error) {
	return dhcpv4.NewDiscovery(hw,
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithBroadcast(true),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500)))
}

// offerServer returns the server that sent m, a reply to the probe xid
// from hw, seen from src: its server identifier (option 54), else the sender's
// address. ok is false for anything but a DHCPOFFER answering the probe.
func offerServer(m *dhcpv4.DHCPv4, xid dhcpv4.TransactionID, hw net.HardwareAddr, src net.IP) (netip.Addr, bool) {
	if m.OpCode != dhcpv4.OpcodeBootReply || m.TransactionID != xid || !isProbe(m, hw) ||
		m.MessageType() != dhcpv4.MessageTypeOffer {
		return netip.Addr{}, false
	}
	if a := addr4(m.ServerIdentifier()); a.IsValid() {
		return a, true
	}
	if a := addr4(src); a.IsValid() {
		return a, true
	}
	return netip.Addr{}, false
}

// addServer inserts a into the sorted, duplicate-free list s.
func addServer(s []netip.Addr, a netip.Addr) []netip.Addr {
	i, found := slices.BinarySearchFunc(s, a, netip.Addr.Compare)
	if found {
		return s
	}
	return slices.Insert(s, i, a)
}
