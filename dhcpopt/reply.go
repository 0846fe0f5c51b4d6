package dhcpopt

import (
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// newReply starts a reply to req of type mt: header fields from the request
// (RFC 2131 table 3), message type, server identifier, and the client
// identifier (RFC 6842) and relay agent information (RFC 3046) copied back.
func (h *Handler) newReply(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  ip(netip.Addr{}),
		YourIPAddr:    ip(netip.Addr{}),
		ServerIPAddr:  ip(netip.Addr{}),
		GatewayIPAddr: ip(addr4(req.GatewayIPAddr)),
		ClientHWAddr:  append(net.HardwareAddr(nil), req.ClientHWAddr...),
		Options:       dhcpv4.Options{},
	}
	r.UpdateOption(dhcpv4.OptMessageType(mt))
	r.UpdateOption(dhcpv4.OptServerIdentifier(ip(h.cfg.ServerID)))
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionClientIdentifier, dhcpv4.OptionRelayAgentInformation} {
		if v := req.Options.Get(c); v != nil {
			r.UpdateOption(dhcpv4.OptGeneric(c, v))
		}
	}
	return r
}

// wants reports whether the client asked for option c. A client that
// sends no parameter request list gets every option the handler has, as
// dnsmasq does.
func wants(req *dhcpv4.DHCPv4, c dhcpv4.OptionCode) bool {
	if !req.Options.Has(dhcpv4.OptionParameterRequestList) {
		return true
	}
	return req.IsOptionRequested(c)
}

// addParams adds the configuration options the client asked for. Option 42
// is the point of the package and is sent whenever requested.
func (h *Handler) addParams(r, req *dhcpv4.DHCPv4) {
	c := &h.cfg
	if c.Subnet.IsValid() && wants(req, dhcpv4.OptionSubnetMask) {
		r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(c.Subnet.Bits(), 32)))
	}
	if c.Router.IsValid() && wants(req, dhcpv4.OptionRouter) {
		r.UpdateOption(dhcpv4.OptRouter(ip(c.Router)))
	}
	if len(c.DNSServers) > 0 && wants(req, dhcpv4.OptionDomainNameServer) {
		r.UpdateOption(dhcpv4.OptDNS(ips(c.DNSServers)...))
	}
	if c.Domain != "" && wants(req, dhcpv4.OptionDomainName) {
		r.UpdateOption(dhcpv4.OptDomainName(c.Domain))
	}
	if wants(req, dhcpv4.OptionNTPServers) {
		r.UpdateOption(dhcpv4.OptNTPServers(ips(c.NTPServers)...))
	}
}

// addLease adds what a lease needs whatever the request list says: the
// lease, renewal (T1 = 1/2) and rebinding (T2 = 7/8) times of RFC 2131
// §4.4.5 and the subnet mask.
func (h *Handler) addLease(r *dhcpv4.DHCPv4, d time.Duration) {
	r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(d))
	r.UpdateOption(dhcpv4.OptRenewTimeValue(d / 2))
	r.UpdateOption(dhcpv4.OptRebindingTimeValue(d * 7 / 8))
	r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(h.cfg.Subnet.Bits(), 32)))
}

func (h *Handler) nak(req *dhcpv4.DHCPv4, why string) *dhcpv4.DHCPv4 {
	r := h.newReply(req, dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage(why))
	if addr4(req.GatewayIPAddr).IsValid() {
		r.SetBroadcast() // the relay must broadcast it (RFC 2131 §4.3.2)
	}
	h.stats.Naks++
	return r
}
