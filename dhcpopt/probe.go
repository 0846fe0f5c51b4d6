package dhcpopt

import (
	"encoding/hex"
	"net"
	"net/netip"
	"slices"
	"strings"

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

// SearchAs is a client of the box's as whom a search also asks
// ([ProbeServersAs]): a DHCP server that answers only the clients it
// knows answers those, once it is back.
type SearchAs struct {
	HW       net.HardwareAddr // chaddr
	ClientID []byte           // option 61, nil for none
}

// Identity is the client of a lease as a search can ask as it: the
// hardware address of a "hw:" key, or of a client identifier of type 1
// (Ethernet) with the identifier itself. ok is false for other client
// identifiers, whose hardware address the lease does not know.
func (l Lease) Identity() (SearchAs, bool) {
	if s, ok := strings.CutPrefix(l.Client, "hw:"); ok {
		hw, err := net.ParseMAC(s)
		return SearchAs{HW: hw}, err == nil && len(hw) == 6
	}
	if s, ok := strings.CutPrefix(l.Client, "id:"); ok {
		id, err := hex.DecodeString(s)
		if err == nil && len(id) == 7 && id[0] == 1 {
			return SearchAs{HW: net.HardwareAddr(id[1:]), ClientID: id}, true
		}
	}
	return SearchAs{}, false
}

// searchTag is the vendor class (option 60) of the DISCOVERs a box sends
// as one of its clients, after the box's probe address hw: the box's own
// handler ignores them, another box's answers them.
func searchTag(hw net.HardwareAddr) string { return "ntpbox-search " + hw.String() }

// isProbe reports whether req is this box's own search: from the probe
// address hw, or as one of its clients.
func isProbe(req *dhcpv4.DHCPv4, hw net.HardwareAddr) bool {
	return slices.Equal(req.ClientHWAddr, hw) || string(req.Options.Get(dhcpv4.OptionClassIdentifier)) == searchTag(hw)
}

// isBoxSearch reports whether req is any ntpbox's search from its probe
// address (02:6e:74:...): a box, never a client, asks, and an ntpbox
// that leases answers it at once, so that the other box sees it.
func isBoxSearch(req *dhcpv4.DHCPv4) bool {
	return len(req.ClientHWAddr) == 6 && slices.Equal(req.ClientHWAddr[:3], ProbeHWAddr[:3])
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

// newProbeAs builds the DHCPDISCOVER a search sends as the client c of
// the box whose probe address is probe: c's chaddr and client
// identifier, the broadcast flag, and the box's search tag.
func newProbeAs(xid dhcpv4.TransactionID, c SearchAs, probe net.HardwareAddr) (*dhcpv4.DHCPv4, error) {
	m, err := newProbe(xid, c.HW)
	if err != nil {
		return nil, err
	}
	m.UpdateOption(dhcpv4.OptClassIdentifier(searchTag(probe)))
	if c.ClientID != nil {
		m.UpdateOption(dhcpv4.OptClientIdentifier(c.ClientID))
	}
	return m, nil
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
