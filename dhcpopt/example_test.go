package dhcpopt_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

// A box in inform mode answers a client's DHCPINFORM with option 42.
func Example() {
	h, err := dhcpopt.NewHandler(dhcpopt.Config{
		Mode:       dhcpopt.ModeInform,
		ServerID:   netip.MustParseAddr("198.18.0.2"),
		NTPServers: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
	}, nil, nil)
	if err != nil {
		panic(err)
	}
	req, _ := dhcpv4.New(
		dhcpv4.WithMessageType(dhcpv4.MessageTypeInform),
		dhcpv4.WithHwAddr(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}),
		dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	resp, err := h.Handle(req, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.MessageType(), resp.ClientIPAddr, resp.NTPServers())

	snippet, _ := dhcpopt.Snippet("dnsmasq", []netip.Addr{netip.MustParseAddr("198.18.0.2")})
	fmt.Print(snippet)
	// Output:
	// ACK 198.18.0.77 [198.18.0.2]
	// # dnsmasq.conf
	// dhcp-option=option:ntp-server,198.18.0.2
}
