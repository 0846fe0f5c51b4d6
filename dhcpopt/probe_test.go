package dhcpopt

import (
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestProbeHWAddrIsLocal(t *testing.T) {
	if len(ProbeHWAddr) != 6 || ProbeHWAddr[0]&2 == 0 || ProbeHWAddr[0]&1 != 0 {
		t.Errorf("ProbeHWAddr %v is not a locally administered unicast address", ProbeHWAddr)
	}
}

func TestNewProbe(t *testing.T) {
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	m, err := newProbe(xid, ProbeHWAddr)
	if err != nil {
		t.Fatal(err)
	}
	m, err = dhcpv4.FromBytes(m.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType() != dhcpv4.MessageTypeDiscover || m.OpCode != dhcpv4.OpcodeBootRequest ||
		m.TransactionID != xid || !slices.Equal(m.ClientHWAddr, ProbeHWAddr) || !m.IsBroadcast() {
		t.Errorf("probe: %s", m.Summary())
	}
	if m.Options.Has(dhcpv4.OptionRequestedIPAddress) || m.Options.Has(dhcpv4.OptionServerIdentifier) {
		t.Errorf("probe asks for an address or a server: %s", m.Summary())
	}
}

func TestOfferServer(t *testing.T) {
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	srv := netip.MustParseAddr("198.18.0.1")
	from := net.ParseIP("198.18.0.7")
	mk := func(mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(ProbeHWAddr), dhcpv4.WithTransactionID(xid),
			dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer)}, mods...)...)
		if err != nil {
			t.Fatal(err)
		}
		m.OpCode = dhcpv4.OpcodeBootReply
		return m
	}
	withID := mk(dhcpv4.WithServerIP(net.IPv4zero), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(srv))))
	if a, ok := offerServer(withID, xid, ProbeHWAddr, from); !ok || a != srv {
		t.Errorf("offer with option 54: %v %v, want %v", a, ok, srv)
	}
	noID := mk()
	if a, ok := offerServer(noID, xid, ProbeHWAddr, from); !ok || a != addr4(from) {
		t.Errorf("offer without option 54: %v %v, want the sender %v", a, ok, from)
	}
	ack := mk(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck))
	otherXID := mk()
	otherXID.TransactionID = dhcpv4.TransactionID{9, 9, 9, 9}
	otherHW := mk(dhcpv4.WithHwAddr(hwA))
	request := mk()
	request.OpCode = dhcpv4.OpcodeBootRequest
	for name, m := range map[string]*dhcpv4.DHCPv4{"ack": ack, "other xid": otherXID, "other chaddr": otherHW, "request": request} {
		if a, ok := offerServer(m, xid, ProbeHWAddr, from); ok {
			t.Errorf("%s: counted server %v", name, a)
		}
	}
	var s []netip.Addr
	for _, a := range []string{"198.18.0.9", "198.18.0.1", "198.18.0.9", "10.0.0.1"} {
		s = addServer(s, netip.MustParseAddr(a))
	}
	if want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), srv, netip.MustParseAddr("198.18.0.9")}; !slices.Equal(s, want) {
		t.Errorf("servers %v, want %v", s, want)
	}
}

// Neither mode answers a server probe, whatever it asks.
func TestHandlerIgnoresProbe(t *testing.T) {
	for _, cfg := range []Config{serverConfig(), {Mode: ModeInform, ServerID: box, NTPServers: []netip.Addr{box}}} {
		p := &fakeProber{}
		h := newHandler(t, cfg, p)
		probe, err := newProbe(dhcpv4.TransactionID{1, 2, 3, 4}, ProbeHWAddr)
		if err != nil {
			t.Fatal(err)
		}
		inform := msg(t, dhcpv4.MessageTypeInform, ProbeHWAddr, dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.77"))))
		request := msg(t, dhcpv4.MessageTypeRequest, ProbeHWAddr,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(cfg.RangeStart))))
		for _, req := range []*dhcpv4.DHCPv4{probe, inform, request} {
			if resp, err := handle(t, h, req, t0); resp != nil || !errors.Is(err, ErrIgnored) {
				t.Errorf("%v mode, %v from the probe address: %v, %v", cfg.Mode, req.MessageType(), resp, err)
			}
		}
		if s := h.Stats(); s.Ignored != 3 || s.Offers+s.Acks+s.Naks+s.Informs != 0 || len(p.probed) != 0 || len(h.Leases()) != 0 {
			t.Errorf("%v mode: stats %+v, probed %v, leases %v", cfg.Mode, s, p.probed, h.Leases())
		}
	}
}

// A client that asks again for the address it holds gets it without a
// probe: it may well answer ARP for it itself.
func TestNoProbeForOwnBinding(t *testing.T) {
	cfg := serverConfig()
	p := &fakeProber{}
	h := newHandler(t, cfg, p)
	a := dora(t, h, hwA, t0)
	if !slices.Equal(p.probed, []netip.Addr{a}) {
		t.Fatalf("first offer probed %v, want %v", p.probed, a)
	}
	// Now the client answers ARP for a; it reboots and discovers again.
	p.inUse = map[netip.Addr]bool{a: true}
	p.probed = nil
	for _, mods := range [][]dhcpv4.Modifier{nil, {dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(a)))}} {
		offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, mods...), t0.Add(time.Minute))
		wantType(t, offer, err, dhcpv4.MessageTypeOffer)
		if got := addr4(offer.YourIPAddr); got != a {
			t.Errorf("re-offer %v, want its own %v", got, a)
		}
	}
	if len(p.probed) != 0 || h.Stats().Conflicts != 0 {
		t.Errorf("re-offer of its own binding probed %v, conflicts %d", p.probed, h.Stats().Conflicts)
	}
	// A retransmitted DISCOVER during the offer is not probed twice either.
	p.probed = nil
	for range 2 {
		offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwB), t0)
		wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	}
	if len(p.probed) != 1 {
		t.Errorf("two DISCOVERs of B probed %v, want one probe", p.probed)
	}
}

// Every address probed in use is a conflict, and the next one is offered.
func TestProberConflictsOfferNext(t *testing.T) {
	cfg := serverConfig()
	second := cfg.RangeStart.Next()
	p := &fakeProber{inUse: map[netip.Addr]bool{cfg.RangeStart: true, second: true}}
	h := newHandler(t, cfg, p)
	if a := dora(t, h, hwA, t0); a != second.Next() {
		t.Errorf("offered %v, want %v (the first free one)", a, second.Next())
	}
	if !slices.Equal(p.probed, []netip.Addr{cfg.RangeStart, second, second.Next()}) {
		t.Errorf("probed %v", p.probed)
	}
	if s := h.Stats(); s.Conflicts != 2 {
		t.Errorf("conflicts %d, want 2", s.Conflicts)
	}
	if got := h.TakeConflicts(); !slices.Equal(got, []netip.Addr{cfg.RangeStart, second}) {
		t.Errorf("TakeConflicts %v", got)
	}
	if got := h.TakeConflicts(); len(got) != 0 {
		t.Errorf("TakeConflicts again: %v, want none", got)
	}
	// After the quarantine the address is probed again.
	p.probed = nil
	p.inUse = nil
	if b := dora(t, h, hwB, t0.Add(conflictHold+time.Second)); b != cfg.RangeStart {
		t.Errorf("after %v: B got %v, want %v again", conflictHold, b, cfg.RangeStart)
	}
}

// Each box probes from its own address: a leasing box ignores its own
// probe and offers to another box's, so that box sees it and does not
// lease too.
func TestHandlerAnswersAnotherBoxsProbe(t *testing.T) {
	self := ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	other := ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x57})
	if self.String() != "02:6e:74:12:34:56" || slices.Equal(self, other) {
		t.Fatalf("probe addresses %v and %v", self, other)
	}
	cfg := serverConfig()
	cfg.ProbeHW = self
	h := newHandler(t, cfg, &fakeProber{})
	xid := dhcpv4.TransactionID{5, 6, 7, 8}
	own, _ := newProbe(xid, self)
	if resp, err := handle(t, h, own, t0); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Errorf("own probe: %v, %v; want it ignored", resp, err)
	}
	theirs, _ := newProbe(xid, other)
	resp, err := handle(t, h, theirs, t0)
	if err != nil || resp == nil || resp.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("another box's probe: %v, %v; want an offer", resp, err)
	}
	if a, ok := offerServer(resp, xid, other, nil); !ok || a != box {
		t.Errorf("the other box reads the offer as from %v (%v), want %v", a, ok, box)
	}
	if len(h.Leases()) != 0 {
		t.Errorf("an offer to a probe bound %v", h.Leases())
	}
}

func TestLeaseIdentity(t *testing.T) {
	for _, tc := range []struct {
		client, hw, id string
		ok             bool
	}{
		{"hw:52:54:00:00:00:0a", "52:54:00:00:00:0a", "", true},
		{"id:015254000000b0", "52:54:00:00:00:b0", "015254000000b0", true},
		{"id:ff00000001000100", "", "", false}, // RFC 4361: no hardware address
		{"id:0152540000", "", "", false},
		{"hw:52:54:00", "", "", false},
		{"hw:xx", "", "", false},
		{"x", "", "", false},
	} {
		c, ok := Lease{Client: tc.client}.Identity()
		id := ""
		if c.ClientID != nil {
			id = hex.EncodeToString(c.ClientID)
		}
		if ok != tc.ok || ok && (c.HW.String() != tc.hw || id != tc.id) {
			t.Errorf("%s: %v %v (id %s), want %v %s %s", tc.client, c.HW, ok, id, tc.ok, tc.hw, tc.id)
		}
	}
}

// The search as one of the box's clients: the client's identity, the
// broadcast flag, and the box's tag, so that the box's own handler
// ignores it and another box's handler answers it like the client.
func TestProbeAs(t *testing.T) {
	self := ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	c, _ := Lease{Client: "id:01" + hex.EncodeToString(hwA)}.Identity()
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	m, err := newProbeAs(xid, c, self)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = dhcpv4.FromBytes(m.ToBytes()); err != nil {
		t.Fatal(err)
	}
	if m.MessageType() != dhcpv4.MessageTypeDiscover || !slices.Equal(m.ClientHWAddr, hwA) || !m.IsBroadcast() ||
		!slices.Equal(m.Options.Get(dhcpv4.OptionClientIdentifier), c.ClientID) ||
		m.ClassIdentifier() != "ntpbox-search 02:6e:74:12:34:56" {
		t.Errorf("search as %v: %s", hwA, m.Summary())
	}
	for _, cfg := range []Config{serverConfig(), autoConfig()} {
		cfg.ProbeHW = self
		h := newHandler(t, cfg, nil)
		h.SetAuto(leasing)
		for i := range 3 {
			if resp, err := handle(t, h, m, t0.Add(time.Duration(i)*probeResend)); resp != nil || !errors.Is(err, ErrIgnored) {
				t.Errorf("%v mode: own search as a client: %v, %v; want it ignored", cfg.Mode, resp, err)
			}
		}
		cfg.ProbeHW = ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x57})
		other := newHandler(t, cfg, nil)
		other.SetAuto(leasing)
		var resp *dhcpv4.DHCPv4
		for i := range 3 {
			resp, err = handle(t, other, m, t0.Add(time.Duration(i)*probeResend))
		}
		wantType(t, resp, err, dhcpv4.MessageTypeOffer)
	}
}

// A leasing auto handler answers another box's search at once: a box,
// not a client, asks, and that box must see this one within its window.
func TestAutoAnswersBoxSearchAtOnce(t *testing.T) {
	cfg := autoConfig()
	cfg.ProbeHW = ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	h := newHandler(t, cfg, nil)
	h.SetAuto(leasing)
	theirs, _ := newProbe(dhcpv4.TransactionID{5, 6, 7, 8}, ProbeHWAddrFor(net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x57}))
	resp, err := handle(t, h, theirs, t0)
	wantType(t, resp, err, dhcpv4.MessageTypeOffer)
}
