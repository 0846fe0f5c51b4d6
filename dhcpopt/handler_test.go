package dhcpopt

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	t0     = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	box    = netip.MustParseAddr("198.18.0.1")
	ntp2   = netip.MustParseAddr("198.18.0.2")
	router = netip.MustParseAddr("198.18.0.254")
	other  = netip.MustParseAddr("198.18.0.250")
	dnsA   = netip.MustParseAddr("198.18.0.53")
	hwA    = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0xa}
	hwB    = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0xb}
	hwC    = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0xc}
)

func serverConfig() Config {
	return Config{
		Mode:       ModeServer,
		ServerID:   box,
		Subnet:     netip.MustParsePrefix("198.18.0.0/24"),
		NTPServers: []netip.Addr{box, ntp2},
		Domain:     "lan.example",
		RangeStart: netip.MustParseAddr("198.18.0.100"),
		RangeEnd:   netip.MustParseAddr("198.18.0.103"),
		Lease:      2 * time.Hour,
		Router:     router,
		DNSServers: []netip.Addr{dnsA},
	}
}

// fakeProber reports the addresses in inUse as taken and records probes.
type fakeProber struct {
	inUse  map[netip.Addr]bool
	probed []netip.Addr
}

func (f *fakeProber) InUse(a netip.Addr) bool {
	f.probed = append(f.probed, a)
	return f.inUse[a]
}

func newHandler(t *testing.T, cfg Config, p Prober) *Handler {
	t.Helper()
	h, err := NewHandler(cfg, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func msg(t *testing.T, mt dhcpv4.MessageType, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(hw)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// handle runs Handle and round-trips the reply through the wire format.
func handle(t *testing.T, h *Handler, req *dhcpv4.DHCPv4, now time.Time) (*dhcpv4.DHCPv4, error) {
	t.Helper()
	req, err := dhcpv4.FromBytes(req.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(req, now)
	if resp == nil {
		return nil, err
	}
	wire, perr := dhcpv4.FromBytes(resp.ToBytes())
	if perr != nil {
		t.Fatalf("reply does not decode: %v", perr)
	}
	if wire.TransactionID != req.TransactionID || wire.OpCode != dhcpv4.OpcodeBootReply {
		t.Fatalf("reply xid/op = %v/%v", wire.TransactionID, wire.OpCode)
	}
	return wire, err
}

func wantType(t *testing.T, resp *dhcpv4.DHCPv4, err error, mt dhcpv4.MessageType) {
	t.Helper()
	if err != nil || resp == nil {
		t.Fatalf("want %v, got %v, %v", mt, resp, err)
	}
	if got := resp.MessageType(); got != mt {
		t.Fatalf("want %v, got %v (%s)", mt, got, resp.Message())
	}
}

// dora runs DISCOVER, REQUEST (selecting) for hw and returns the address.
func dora(t *testing.T, h *Handler, hw net.HardwareAddr, now time.Time, mods ...dhcpv4.Modifier) netip.Addr {
	t.Helper()
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hw, mods...), now)
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	a := addr4(offer.YourIPAddr)
	req := msg(t, dhcpv4.MessageTypeRequest, hw, append(mods,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(a))))...)
	ack, err := handle(t, h, req, now)
	wantType(t, ack, err, dhcpv4.MessageTypeAck)
	if got := addr4(ack.YourIPAddr); got != a {
		t.Fatalf("ACK yiaddr %v, offered %v", got, a)
	}
	return a
}

func addrsOf(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, i := range ips {
		out = append(out, addr4(i))
	}
	return out
}

func TestInformMode(t *testing.T) {
	cfg := Config{Mode: ModeInform, ServerID: box, NTPServers: []netip.Addr{box, ntp2}}
	h := newHandler(t, cfg, nil)
	ci := netip.MustParseAddr("198.18.0.77")

	resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeInform, hwA,
		dhcpv4.WithClientIP(ip(ci)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers, dhcpv4.OptionDomainNameServer)), t0)
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	if got := addr4(resp.ClientIPAddr); got != ci {
		t.Errorf("ciaddr %v, want echoed %v", got, ci)
	}
	if !resp.YourIPAddr.IsUnspecified() {
		t.Errorf("yiaddr %v, want 0.0.0.0", resp.YourIPAddr)
	}
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue,
		dhcpv4.OptionRebindingTimeValue, dhcpv4.OptionDomainNameServer, dhcpv4.OptionSubnetMask} {
		if resp.Options.Has(c) {
			t.Errorf("INFORM reply has %v", c)
		}
	}
	if got := addrsOf(resp.NTPServers()); !slices.Equal(got, cfg.NTPServers) {
		t.Errorf("option 42 = %v, want %v", got, cfg.NTPServers)
	}
	if got := addr4(resp.ServerIdentifier()); got != box {
		t.Errorf("server id %v", got)
	}

	// Not requested: not sent.
	resp, err = handle(t, h, msg(t, dhcpv4.MessageTypeInform, hwA, dhcpv4.WithClientIP(ip(ci)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask)), t0)
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	if resp.Options.Has(dhcpv4.OptionNTPServers) {
		t.Error("option 42 sent though the request list omits it")
	}

	for name, req := range map[string]*dhcpv4.DHCPv4{
		"discover":       msg(t, dhcpv4.MessageTypeDiscover, hwA),
		"inform no addr": msg(t, dhcpv4.MessageTypeInform, hwA),
	} {
		if resp, err := handle(t, h, req, t0); resp != nil || !errors.Is(err, ErrIgnored) {
			t.Errorf("%s: got %v, %v; want ErrIgnored", name, resp, err)
		}
	}
	if s := h.Stats(); s.Informs != 2 || s.Ignored != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestMalformed(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	reply := msg(t, dhcpv4.MessageTypeDiscover, hwA)
	reply.OpCode = dhcpv4.OpcodeBootReply
	noType := msg(t, dhcpv4.MessageTypeDiscover, hwA)
	noType.Options.Del(dhcpv4.OptionDHCPMessageType)
	for name, req := range map[string]*dhcpv4.DHCPv4{
		"nil":        nil,
		"reply":      reply,
		"no type":    noType,
		"no chaddr":  msg(t, dhcpv4.MessageTypeDiscover, nil),
		"empty":      {},
		"nil fields": {OpCode: dhcpv4.OpcodeBootRequest, Options: dhcpv4.OptionsFromList(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))},
	} {
		if resp, err := h.Handle(req, t0); resp != nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, %v; want ErrMalformed", name, resp, err)
		}
	}
	if s := h.Stats(); s.Malformed != 6 {
		t.Errorf("malformed count %d", s.Malformed)
	}
}

func TestNewHandlerDropsForeignLeases(t *testing.T) {
	cfg := serverConfig()
	h, err := NewHandler(cfg, nil, []Lease{
		{Client: "hw:a", Addr: cfg.RangeStart, Expires: t0},
		{Client: "hw:b", Addr: other, Expires: t0},
		{Client: "", Addr: cfg.RangeEnd, Expires: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Leases(); len(got) != 1 || got[0].Client != "hw:a" {
		t.Errorf("leases %+v", got)
	}
}
