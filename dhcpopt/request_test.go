package dhcpopt

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestRequestStates(t *testing.T) {
	cfg := serverConfig()
	foreign := netip.MustParseAddr("203.0.113.9")
	sid := func(a netip.Addr) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(a))) }
	want := func(a netip.Addr) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(a))) }
	ci := func(a netip.Addr) dhcpv4.Modifier { return dhcpv4.WithClientIP(ip(a)) }
	a0 := cfg.RangeStart // A's address after setup
	b0 := a0.Next()      // B's address after setup
	free := b0.Next()

	for _, tc := range []struct {
		name    string
		hw      net.HardwareAddr
		mods    []dhcpv4.Modifier
		want    dhcpv4.MessageType // MessageTypeNone: no reply
		wantErr error
	}{
		{"selecting another server", hwA, []dhcpv4.Modifier{sid(other), want(a0)}, dhcpv4.MessageTypeNone, ErrIgnored},
		{"selecting unoffered address", hwA, []dhcpv4.Modifier{sid(box), want(free)}, dhcpv4.MessageTypeNak, nil},
		{"selecting without address", hwA, []dhcpv4.Modifier{sid(box)}, dhcpv4.MessageTypeNone, ErrMalformed},
		{"init-reboot known", hwA, []dhcpv4.Modifier{want(a0)}, dhcpv4.MessageTypeAck, nil},
		{"init-reboot other's address", hwA, []dhcpv4.Modifier{want(b0)}, dhcpv4.MessageTypeNak, nil},
		{"init-reboot wrong network", hwA, []dhcpv4.Modifier{want(foreign)}, dhcpv4.MessageTypeNak, nil},
		{"init-reboot unknown client", hwC, []dhcpv4.Modifier{want(free)}, dhcpv4.MessageTypeNone, ErrIgnored},
		{"renewing", hwA, []dhcpv4.Modifier{ci(a0)}, dhcpv4.MessageTypeAck, nil},
		{"rebinding", hwA, []dhcpv4.Modifier{ci(a0), dhcpv4.WithBroadcast(true)}, dhcpv4.MessageTypeAck, nil},
		{"renewing other's address", hwA, []dhcpv4.Modifier{ci(b0)}, dhcpv4.MessageTypeNak, nil},
		{"renewing unknown client", hwC, []dhcpv4.Modifier{ci(free)}, dhcpv4.MessageTypeNone, ErrIgnored},
		{"renewing wrong network", hwC, []dhcpv4.Modifier{ci(foreign)}, dhcpv4.MessageTypeNak, nil},
		{"no state", hwA, nil, dhcpv4.MessageTypeNone, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, cfg, nil)
			if got := dora(t, h, hwA, t0); got != a0 {
				t.Fatalf("setup: A got %v", got)
			}
			if got := dora(t, h, hwB, t0); got != b0 {
				t.Fatalf("setup: B got %v", got)
			}
			now := t0.Add(time.Hour)
			resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeRequest, tc.hw, tc.mods...), now)
			if tc.want == dhcpv4.MessageTypeNone {
				if resp != nil || !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, %v; want no reply, %v", resp, err, tc.wantErr)
				}
				return
			}
			wantType(t, resp, err, tc.want)
			switch tc.want {
			case dhcpv4.MessageTypeAck:
				if got := addr4(resp.YourIPAddr); got != a0 {
					t.Errorf("yiaddr %v", got)
				}
				if !resp.ClientIPAddr.Equal(ip(addr4(msg(t, 0, hwA, tc.mods...).ClientIPAddr))) {
					t.Errorf("ciaddr %v not echoed", resp.ClientIPAddr)
				}
				if exp := h.Leases()[0].Expires; !exp.Equal(now.Add(cfg.Lease)) {
					t.Errorf("lease not extended: expires %v", exp)
				}
			case dhcpv4.MessageTypeNak:
				if !resp.YourIPAddr.IsUnspecified() || resp.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
					t.Errorf("NAK carries an address or lease: %v", resp)
				}
			}
		})
	}
}

func TestRelayed(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	far := dhcpv4.WithGatewayIP(net.IPv4(198, 19, 0, 1))
	if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, far), t0); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Errorf("DISCOVER relayed from another subnet: %v, %v", resp, err)
	}
	near := dhcpv4.WithGatewayIP(net.IPv4(198, 18, 0, 254))
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, near), t0)
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	if !offer.GatewayIPAddr.Equal(net.IPv4(198, 18, 0, 254)) {
		t.Errorf("giaddr %v not echoed", offer.GatewayIPAddr)
	}
	nak, err := handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwA, near,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(203, 0, 113, 9)))), t0)
	wantType(t, nak, err, dhcpv4.MessageTypeNak)
	if !nak.IsBroadcast() {
		t.Error("relayed NAK without the broadcast bit")
	}
}

// Nothing is answered towards an address off the LAN: not through a relay
// outside the subnet, not to the ciaddr of an INFORM outside it.
func TestOffLinkIgnored(t *testing.T) {
	far := net.IPv4(198, 19, 255, 1)
	for _, cfg := range []Config{serverConfig(), {Mode: ModeInform, ServerID: box, Subnet: netip.MustParsePrefix("198.18.0.0/24"), NTPServers: []netip.Addr{box}}} {
		h := newHandler(t, cfg, nil)
		for name, req := range map[string]*dhcpv4.DHCPv4{
			"inform relayed from afar": msg(t, dhcpv4.MessageTypeInform, hwA, dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77)), dhcpv4.WithGatewayIP(far)),
			"request relayed from afar": msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithGatewayIP(far),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(cfg.RangeStart)))),
			"inform with a far ciaddr": msg(t, dhcpv4.MessageTypeInform, hwA, dhcpv4.WithClientIP(far)),
		} {
			if resp, err := handle(t, h, req, t0); resp != nil || !errors.Is(err, ErrIgnored) {
				t.Errorf("%v mode, %s: %v, %v; want ErrIgnored", cfg.Mode, name, resp, err)
			}
		}
		// On the LAN, and relayed from it, INFORM is answered.
		for _, mods := range [][]dhcpv4.Modifier{{dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77))},
			{dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77)), dhcpv4.WithGatewayIP(net.IPv4(198, 18, 0, 254))}} {
			resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeInform, hwA, mods...), t0)
			wantType(t, resp, err, dhcpv4.MessageTypeAck)
		}
	}
}
