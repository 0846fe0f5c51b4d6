package appliance

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func ack(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLeaseNetwork(t *testing.T) {
	ip := func(s string) net.IP { return net.ParseIP(s).To4() }
	tests := []struct {
		name  string
		ack   []dhcpv4.Modifier
		want  Network
		renew time.Duration
		err   bool
	}{
		{
			name: "everything",
			ack: []dhcpv4.Modifier{
				dhcpv4.WithYourIP(ip("198.18.0.2")),
				dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
				dhcpv4.WithOption(dhcpv4.OptRouter(ip("198.18.0.1"))),
				dhcpv4.WithOption(dhcpv4.OptDNS(ip("198.18.0.53"))),
				dhcpv4.WithOption(dhcpv4.OptNTPServers(ip("198.18.0.1"), ip("198.18.0.3"))),
				dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(2 * time.Hour)),
			},
			want: Network{Interface: "eth0", DHCP: true,
				Addresses:   []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")},
				Gateway:     netip.MustParseAddr("198.18.0.1"),
				Nameservers: []netip.Addr{netip.MustParseAddr("198.18.0.53")},
				NTPServers:  []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.3")}},
			renew: time.Hour,
		},
		{
			name: "address only, short lease",
			ack: []dhcpv4.Modifier{
				dhcpv4.WithYourIP(ip("198.19.7.9")),
				dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(20 * time.Second)),
			},
			want:  Network{Interface: "eth0", DHCP: true, Addresses: []netip.Prefix{netip.MustParsePrefix("198.19.7.9/24")}},
			renew: 30 * time.Second,
		},
		{name: "no address", ack: nil, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, renew, err := LeaseNetwork("eth0", ack(t, tt.ack...))
			if tt.err {
				if err == nil {
					t.Errorf("no error; got %+v", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(n, tt.want) || renew != tt.renew {
				t.Errorf("got %+v, renew %v\nwant %+v, renew %v", n, renew, tt.want, tt.renew)
			}
		})
	}
}
