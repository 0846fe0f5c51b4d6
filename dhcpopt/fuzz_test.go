package dhcpopt

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandle feeds arbitrary bytes through the decoder to handlers that
// already hold leases, in server mode and in auto mode leasing and
// yielding: they must never panic, an address handed out must lie in the
// range, and a yielding handler never offers or binds one.
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
	// A client naming another server.
	sel, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(hwC),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(other))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.60")))))
	f.Add(sel.ToBytes())
	// The server mode, and the auto mode leasing and yielding.
	auto := autoConfig()
	yield := AutoDecision{Mode: AutoInform, Yield: true}
	modes := []struct {
		cfg Config
		d   AutoDecision
	}{{serverConfig(), AutoDecision{}}, {auto, leasing}, {auto, yield}}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		for _, c := range modes {
			cfg := c.cfg
			h, err := NewHandler(cfg, &fakeProber{inUse: map[netip.Addr]bool{cfg.RangeEnd: true}}, []Lease{
				{Client: "hw:" + hwB.String(), Addr: cfg.RangeStart.Next(), Expires: t0.Add(time.Hour)},
			})
			if err != nil {
				t.Fatal(err)
			}
			h.SetAuto(c.d)
			for i := range 3 { // thrice: earlier calls may have changed the state
				resp, _ := h.Handle(req, t0.Add(time.Duration(i)*RetryAfter))
				if resp == nil {
					continue
				}
				if y := addr4(resp.YourIPAddr); y.IsValid() && !cfg.InRange(y) {
					t.Fatalf("%v: reply hands out %v, outside %v-%v", cfg.Mode, y, cfg.RangeStart, cfg.RangeEnd)
				}
				if c.d.Yield && (resp.MessageType() == dhcpv4.MessageTypeOffer || resp.MessageType() == dhcpv4.MessageTypeAck && addr4(resp.YourIPAddr).IsValid()) {
					t.Fatalf("yielding, the box sent %v", resp.MessageType())
				}
				if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
					t.Fatalf("reply does not decode: %v", err)
				}
			}
		}
	})
}

// FuzzParseServers: the record decoder never panics, and what it accepts
// survives a round trip.
func FuzzParseServers(f *testing.F) {
	f.Add([]byte(`{"server":"198.18.0.1","subnet":"198.18.0.0/24","last_seen":"2026-11-26T03:00:00Z","how":"search"}` + "\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"server":"198.18.0.1","subnet":"198.18.0.0/24","how":"passive"} {}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		seen, err := ParseServers(b)
		if err != nil {
			return
		}
		again, err := ParseServers(FormatServers(seen))
		if err != nil || len(again) != len(seen) {
			t.Fatalf("round trip: %v, %d entries, want %d", err, len(again), len(seen))
		}
		for i := range seen {
			a, b := seen[i], again[i]
			if a.Server != b.Server || a.Subnet != b.Subnet || !a.LastSeen.Equal(b.LastSeen) || a.How != b.How {
				t.Fatalf("round trip: %+v became %+v", a, b)
			}
		}
	})
}
