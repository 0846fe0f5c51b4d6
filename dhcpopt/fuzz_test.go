package dhcpopt

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary bytes through the decoder to a server-mode
// handler that already holds leases: it must never panic, and an address
// it hands out must lie in the range.
func FuzzHandle(f *testing.F) {
	for _, mt := range []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest,
		dhcpv4.MessageTypeInform, dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline} {
		m, _ := dhcpv4.New(dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(hwA),
			dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.100"))),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.9")))),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
		f.Add(m.ToBytes())
	}
	// The server probe, and an INFORM relayed from off the LAN.
	probe, _ := newProbe(dhcpv4.TransactionID{1, 2, 3, 4}, ProbeHWAddr)
	f.Add(probe.ToBytes())
	far, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeInform), dhcpv4.WithHwAddr(hwA),
		dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.77"))), dhcpv4.WithGatewayIP(ip(netip.MustParseAddr("198.19.0.1"))))
	f.Add(far.ToBytes())
	cfg := serverConfig()
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		h, err := NewHandler(cfg, &fakeProber{inUse: map[netip.Addr]bool{cfg.RangeEnd: true}}, []Lease{
			{Client: "hw:" + hwB.String(), Addr: cfg.RangeStart.Next(), Expires: t0.Add(time.Hour)},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // twice: the first call may have changed the state
			resp, _ := h.Handle(req, t0.Add(time.Duration(i)*time.Minute))
			if resp == nil {
				continue
			}
			if y := addr4(resp.YourIPAddr); y.IsValid() && !cfg.InRange(y) {
				t.Fatalf("reply hands out %v, outside %v-%v", y, cfg.RangeStart, cfg.RangeEnd)
			}
			if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
				t.Fatalf("reply does not decode: %v", err)
			}
		}
	})
}
