package dhcpopt

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// autoConfig is `dhcp auto` on the box: the upper half of the subnet, the
// box's own router and nameserver, the default (short) lease.
func autoConfig() Config {
	c := serverConfig()
	c.Mode, c.Lease = ModeAuto, 0
	return c
}

var leasing = AutoDecision{Mode: AutoLease, Reason: "test: no other server"}

// autoDORA is dora for auto mode: the client's first DISCOVER is not
// answered, its retry RetryAfter later is.
func autoDORA(t *testing.T, h *Handler, hw []byte, now time.Time) (netip.Addr, time.Time) {
	t.Helper()
	if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hw), now); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Fatalf("first DISCOVER: %v, %v; want it ignored", resp, err)
	}
	return dora(t, h, hw, now.Add(RetryAfter)), now.Add(RetryAfter)
}

func TestAutoStartsInformOnly(t *testing.T) {
	h := newHandler(t, autoConfig(), nil)
	if d := h.Auto(); d.Mode != AutoInform || d.Yield {
		t.Fatalf("a new auto handler: %+v, want inform", d)
	}
	for i := range 3 {
		if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0.Add(time.Duration(i)*5*time.Second)); resp != nil || !errors.Is(err, ErrIgnored) {
			t.Fatalf("DISCOVER while not leasing: %v, %v", resp, err)
		}
	}
	inf := msg(t, dhcpv4.MessageTypeInform, hwB, dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.20"))))
	resp, err := handle(t, h, inf, t0)
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	h.SetAuto(AutoDecision{Mode: AutoOff})
	if resp, err := handle(t, h, inf, t0); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Fatalf("INFORM while off: %v, %v", resp, err)
	}
}

// An auto lease is short and carries options 3, 6 and 42.
func TestAutoLeaseOptions(t *testing.T) {
	cfg := autoConfig()
	h := newHandler(t, cfg, nil)
	h.SetAuto(leasing)
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionNTPServers)
	handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, prl), t0)
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, prl), t0.Add(RetryAfter))
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	req := msg(t, dhcpv4.MessageTypeRequest, hwA, prl,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)))
	ack, err := handle(t, h, req, t0.Add(RetryAfter))
	wantType(t, ack, err, dhcpv4.MessageTypeAck)
	for _, r := range []*dhcpv4.DHCPv4{offer, ack} {
		if d, t1 := r.IPAddressLeaseTime(0), r.IPAddressRenewalTime(0); d != 2*time.Minute || t1 != time.Minute {
			t.Errorf("%v: lease %v, T1 %v; want 2m0s, 1m0s", r.MessageType(), d, t1)
		}
		if got := addrsOf(r.Router()); !slices.Equal(got, []netip.Addr{router}) {
			t.Errorf("%v: router %v, want %v", r.MessageType(), got, router)
		}
		if got := addrsOf(r.DNS()); !slices.Equal(got, cfg.DNSServers) {
			t.Errorf("%v: dns %v, want %v", r.MessageType(), got, cfg.DNSServers)
		}
		if got := addrsOf(r.NTPServers()); !slices.Equal(got, cfg.NTPServers) {
			t.Errorf("%v: ntp %v", r.MessageType(), got)
		}
	}
}

// The box answers a DISCOVER only from a client that has been asking for
// RetryAfter (4 s): another server answers first.
func TestAutoRetryGate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sends []time.Duration // DISCOVERs at these offsets
		secs  uint16          // the secs field of the last one
		offer bool            // the last one is answered
	}{
		{"first DISCOVER", []time.Duration{0}, 0, false},
		{"retry after 2 s", []time.Duration{0, 2 * time.Second}, 0, false},
		{"retry after 4 s", []time.Duration{0, 2 * time.Second, 4 * time.Second}, 0, true},
		{"single retry after 4 s", []time.Duration{0, 4 * time.Second}, 0, true},
		{"retry after 25 s", []time.Duration{0, 25 * time.Second}, 0, true},
		{"retry after 31 s is a new attempt", []time.Duration{0, 31 * time.Second}, 0, false},
		{"slow retries keep the attempt", []time.Duration{0, 20 * time.Second, 40 * time.Second}, 0, true},
		{"secs 4 on the first", []time.Duration{0}, 4, true},
		{"secs 3 on the first", []time.Duration{0}, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, autoConfig(), nil)
			h.SetAuto(leasing)
			var resp *dhcpv4.DHCPv4
			var err error
			for i, at := range tc.sends {
				m := msg(t, dhcpv4.MessageTypeDiscover, hwA)
				if i == len(tc.sends)-1 {
					m.NumSeconds = tc.secs
				}
				resp, err = handle(t, h, m, t0.Add(at))
			}
			if tc.offer {
				wantType(t, resp, err, dhcpv4.MessageTypeOffer)
			} else if resp != nil || !errors.Is(err, ErrIgnored) {
				t.Errorf("got %v, %v; want the DISCOVER ignored", resp, err)
			}
		})
	}
	// DISCOVERs counted while the box did not lease yet count.
	h := newHandler(t, autoConfig(), nil)
	handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0)
	h.SetAuto(leasing)
	resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0.Add(5*time.Second))
	wantType(t, resp, err, dhcpv4.MessageTypeOffer)
}

// A client's request naming another server stops the leasing at once;
// from then on every request for a lease of the box's is NAKed, renewals
// included, and nothing else is.
func TestAutoYieldsToServerNamedByClient(t *testing.T) {
	h := newHandler(t, autoConfig(), nil)
	h.SetAuto(leasing)
	a, now := autoDORA(t, h, hwA, t0)
	b, _ := autoDORA(t, h, hwB, t0)
	offer := func() netip.Addr { // C has the box's offer but not yet an ACK
		handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwC), now)
		o, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwC), now.Add(RetryAfter))
		wantType(t, o, err, dhcpv4.MessageTypeOffer)
		return addr4(o.YourIPAddr)
	}()

	// Another client (hw 0d) takes the real server's offer.
	hwD := []byte{0x52, 0x54, 0, 0, 0, 0xd}
	now = now.Add(time.Minute)
	sel := msg(t, dhcpv4.MessageTypeRequest, hwD,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(other))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.60")))))
	if resp, err := handle(t, h, sel, now); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Fatalf("REQUEST for the other server: %v, %v", resp, err)
	}
	d := h.Auto()
	if d.Mode != AutoInform || !d.Yield || d.Server.Server != other || d.Server.How != SeenPassive {
		t.Fatalf("after a client named %v: %+v, want inform and yield", other, d)
	}
	select {
	case <-h.Sighted():
	default:
		t.Error("no signal on Sighted")
	}
	// The caller's decision to lease, made before it took the sighting,
	// is not applied.
	if d := h.SetAuto(leasing); d.Mode != AutoInform || !d.Yield || h.Auto().Mode != AutoInform {
		t.Fatalf("SetAuto(lease) applied while a sighting waits: %+v", d)
	}
	s := h.TakeSightings()
	if len(s) != 1 || s[0].Server != other || s[0].At != now || s[0].Client != "hw:52:54:00:00:00:0d" {
		t.Fatalf("sightings %+v", s)
	}
	if s := h.TakeSightings(); len(s) != 0 {
		t.Errorf("sightings taken twice: %+v", s)
	}

	renew := func(hw []byte, addr netip.Addr) *dhcpv4.DHCPv4 {
		return msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithClientIP(ip(addr)))
	}
	// A renews: NAK. Again: its lease is over, the box says nothing.
	resp, err := handle(t, h, renew(hwA, a), now)
	wantType(t, resp, err, dhcpv4.MessageTypeNak)
	if resp, err := handle(t, h, renew(hwA, a), now); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Errorf("second renewal after the NAK: %v, %v", resp, err)
	}
	// B reboots and checks its address (INIT-REBOOT): NAK.
	resp, err = handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwB, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(b)))), now)
	wantType(t, resp, err, dhcpv4.MessageTypeNak)
	// C selects the box's offer: NAK.
	resp, err = handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwC,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(offer)))), now)
	wantType(t, resp, err, dhcpv4.MessageTypeNak)
	// Nobody is offered anything, however long they ask.
	for i := range 3 {
		if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), now.Add(time.Duration(i)*5*time.Second)); resp != nil || !errors.Is(err, ErrIgnored) {
			t.Fatalf("DISCOVER while yielding: %v, %v", resp, err)
		}
	}
	// The real server's clients are left alone: a renewal, an INIT-REBOOT
	// of an address in the box's range, a rebinding from another subnet.
	for name, m := range map[string]*dhcpv4.DHCPv4{
		"renewal of another lease": renew(hwD, netip.MustParseAddr("198.18.0.60")),
		"init-reboot in the box's range": msg(t, dhcpv4.MessageTypeRequest, hwD,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.101"))))),
		"init-reboot from another subnet": msg(t, dhcpv4.MessageTypeRequest, hwD,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.19.0.7"))))),
	} {
		if resp, err := handle(t, h, m, now); resp != nil || !errors.Is(err, ErrIgnored) {
			t.Errorf("%s: %v, %v; want silence", name, resp, err)
		}
	}
	// INFORM is still answered.
	resp, err = handle(t, h, msg(t, dhcpv4.MessageTypeInform, hwD, dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.60")))), now)
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	if got := h.Stats().Naks; got != 3 {
		t.Errorf("%d NAKs, want 3", got)
	}
	// The leases the box gave are over, and saved so.
	for _, l := range h.Leases() {
		if l.active(now.Add(time.Nanosecond)) {
			t.Errorf("lease still active: %+v", l)
		}
	}
}

// A decision to yield (another server answered the search) NAKs the box's
// leases in the same way, those loaded from the lease file included.
func TestAutoYieldFromDecision(t *testing.T) {
	cfg := autoConfig()
	a := netip.MustParseAddr("198.18.0.101")
	h, err := NewHandler(cfg, nil, []Lease{{Client: "hw:" + hwA.String(), Addr: a, Expires: t0.Add(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	renew := msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithClientIP(ip(a)))
	// Not yet decided: silence (the box may lease again once it has
	// searched, and then the client keeps its address).
	if resp, err := handle(t, h, renew, t0); resp != nil || !errors.Is(err, ErrIgnored) {
		t.Fatalf("renewal while undecided: %v, %v", resp, err)
	}
	h.SetAuto(DecideAuto(AutoInput{Now: t0, Address: AddrStatic, Subnet: cfg.Subnet,
		Seen: []SeenServer{{Server: other, Subnet: cfg.Subnet, LastSeen: t0}}}))
	resp, err := handle(t, h, renew, t0)
	wantType(t, resp, err, dhcpv4.MessageTypeNak)
}

// While leasing, the box is not authoritative: it NAKs only its own
// clients, and stays silent about an address it never leased.
func TestAutoNotAuthoritative(t *testing.T) {
	h := newHandler(t, autoConfig(), nil)
	h.SetAuto(leasing)
	for name, m := range map[string]*dhcpv4.DHCPv4{
		"init-reboot from another subnet": msg(t, dhcpv4.MessageTypeRequest, hwA,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.19.0.7"))))),
		"rebinding of another server's lease": msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithClientIP(ip(netip.MustParseAddr("198.18.0.60")))),
	} {
		if resp, err := handle(t, h, m, t0); resp != nil || !errors.Is(err, ErrIgnored) {
			t.Errorf("%s: %v, %v; want silence", name, resp, err)
		}
	}
	a, now := autoDORA(t, h, hwA, t0)
	resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithClientIP(ip(a))), now.Add(time.Minute))
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
}

// Other modes report the servers clients name but are not changed by them.
func TestServerModeSightings(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwA,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(other))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.60"))))), t0)
	if s := h.TakeSightings(); len(s) != 1 || s[0].Server != other {
		t.Errorf("sightings %+v", s)
	}
	h.SetAuto(AutoDecision{Mode: AutoOff})
	dora(t, h, hwB, t0)
	// Not a sighting: the box itself, a broadcast or unspecified identifier.
	for _, sid := range []string{"198.18.0.1", "255.255.255.255", "0.0.0.0", "127.0.0.1"} {
		handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwC,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(netip.MustParseAddr(sid)))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(netip.MustParseAddr("198.18.0.60"))))), t0)
	}
	if s := h.TakeSightings(); len(s) != 0 {
		t.Errorf("sightings %+v, want none", s)
	}
}
