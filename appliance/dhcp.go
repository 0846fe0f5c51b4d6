package appliance

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// DHCPOptions are the options init asks its DHCP server for: the subnet
// mask, router and DNS servers to configure, and the NTP servers (option
// 42, RFC 2132 §8.3), which become `server ADDR iburst` lines.
var DHCPOptions = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionNTPServers, dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue,
}

// defaultLease is the lease time assumed when the ACK gives none.
const defaultLease = time.Hour

// LeaseNetwork returns the network settings a DHCP ACK gives the
// interface ifname, and when to renew the lease (its T1: the renewal
// time option, else half the lease; at least 30 s).
func LeaseNetwork(ifname string, ack *dhcpv4.DHCPv4) (Network, time.Duration, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsGlobalUnicast() {
		return Network{}, 0, errors.New("DHCP ACK without a usable address")
	}
	mask := ack.SubnetMask()
	bits, size := mask.Size()
	if mask == nil || size != 32 {
		bits = 24 // no subnet mask option: assume a /24, as a home router would give
	}
	n := Network{Interface: ifname, DHCP: true, Addresses: []netip.Prefix{netip.PrefixFrom(ip, bits)}}
	if r := ack.Router(); len(r) > 0 {
		n.Gateway = addr4(r[0])
	}
	for _, a := range ack.DNS() {
		if v := addr4(a); v.IsValid() {
			n.Nameservers = append(n.Nameservers, v)
		}
	}
	for _, a := range ack.NTPServers() {
		if v := addr4(a); v.IsValid() && !v.IsUnspecified() {
			n.NTPServers = append(n.NTPServers, v)
		}
	}
	lease := ack.IPAddressLeaseTime(defaultLease)
	renew := ack.IPAddressRenewalTime(lease / 2)
	if renew <= 0 || renew > lease {
		renew = lease / 2
	}
	return n, max(renew, 30*time.Second), nil
}

func addr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}
