package dhcpopt

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestDORA(t *testing.T) {
	cfg := serverConfig()
	h := newHandler(t, cfg, nil)
	gen := h.Generation()
	prl := dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName, dhcpv4.OptionNTPServers)

	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA, prl), t0)
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	if got := addr4(offer.YourIPAddr); got != cfg.RangeStart {
		t.Errorf("offered %v, want %v", got, cfg.RangeStart)
	}
	if h.Generation() != gen {
		t.Error("an offer changed the persisted leases")
	}
	checkParams := func(r *dhcpv4.DHCPv4) {
		t.Helper()
		if d := r.IPAddressLeaseTime(0); d != cfg.Lease {
			t.Errorf("lease %v", d)
		}
		if d := r.IPAddressRenewalTime(0); d != cfg.Lease/2 {
			t.Errorf("T1 %v", d)
		}
		if d := r.IPAddressRebindingTime(0); d != cfg.Lease*7/8 {
			t.Errorf("T2 %v", d)
		}
		if m := r.SubnetMask(); m.String() != "ffffff00" {
			t.Errorf("mask %v", m)
		}
		if got := addrsOf(r.Router()); !slices.Equal(got, []netip.Addr{router}) {
			t.Errorf("router %v", got)
		}
		if got := addrsOf(r.DNS()); !slices.Equal(got, cfg.DNSServers) {
			t.Errorf("dns %v", got)
		}
		if got := r.DomainName(); got != cfg.Domain {
			t.Errorf("domain %q", got)
		}
		if got := addrsOf(r.NTPServers()); !slices.Equal(got, cfg.NTPServers) {
			t.Errorf("ntp %v", got)
		}
	}
	checkParams(offer)

	req := msg(t, dhcpv4.MessageTypeRequest, hwA, prl,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptHostName("alpha")))
	ack, err := handle(t, h, req, t0)
	wantType(t, ack, err, dhcpv4.MessageTypeAck)
	checkParams(ack)
	if h.Generation() == gen {
		t.Error("ACK did not change the lease generation")
	}
	want := []Lease{{Client: "hw:" + hwA.String(), Addr: cfg.RangeStart, Expires: t0.Add(cfg.Lease), Hostname: "alpha"}}
	if got := h.Leases(); !slices.Equal(got, want) {
		t.Errorf("leases %+v, want %+v", got, want)
	}
}

// Options 3 and 6 carry what the configuration says, nothing else: no
// router and no DNS server is no option 3 and no option 6 (the box is no
// DNS resolver).
func TestNoRouterNoDNS(t *testing.T) {
	cfg := serverConfig()
	cfg.Router, cfg.DNSServers = netip.Addr{}, nil
	h := newHandler(t, cfg, nil)
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0)
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer} {
		if offer.Options.Has(c) {
			t.Errorf("%v sent: %v", c, offer.Options.Get(c))
		}
	}
}

func TestRequestListLimitsOptions(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA,
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter)), t0)
	wantType(t, offer, err, dhcpv4.MessageTypeOffer)
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionNTPServers, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName} {
		if offer.Options.Has(c) {
			t.Errorf("unrequested %v sent", c)
		}
	}
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptionRouter, dhcpv4.OptionSubnetMask, dhcpv4.OptionIPAddressLeaseTime} {
		if !offer.Options.Has(c) {
			t.Errorf("%v missing", c)
		}
	}
}

func TestStableAddresses(t *testing.T) {
	cfg := serverConfig()
	h := newHandler(t, cfg, nil)
	a := dora(t, h, hwA, t0)

	rel := msg(t, dhcpv4.MessageTypeRelease, hwA, dhcpv4.WithClientIP(ip(a)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))))
	if resp, err := handle(t, h, rel, t0.Add(time.Minute)); resp != nil || err != nil {
		t.Fatalf("release: %v, %v", resp, err)
	}
	// Another client gets a never-used address, not A's released one.
	if b := dora(t, h, hwB, t0.Add(2*time.Minute)); b == a {
		t.Errorf("B got A's released address %v", b)
	}
	// A comes back a day later and gets its old address.
	if again := dora(t, h, hwA, t0.Add(24*time.Hour)); again != a {
		t.Errorf("A got %v, had %v", again, a)
	}
	// A client identifier beats the hardware address.
	id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 1, 2, 3}))
	c := dora(t, h, hwC, t0, id)
	if again := dora(t, h, hwA, t0.Add(time.Hour), id); again != c {
		t.Errorf("same client id, new chaddr: got %v, want %v", again, c)
	}
}

func TestProberSkipsAddressesInUse(t *testing.T) {
	cfg := serverConfig()
	p := &fakeProber{inUse: map[netip.Addr]bool{cfg.RangeStart: true}}
	h := newHandler(t, cfg, p)
	a := dora(t, h, hwA, t0)
	if a == cfg.RangeStart {
		t.Fatalf("offered %v, which the prober reports in use", a)
	}
	if s := h.Stats(); s.Conflicts != 1 {
		t.Errorf("conflicts %d", s.Conflicts)
	}
	// The conflicting address is not even probed again for a while.
	p.probed = nil
	if b := dora(t, h, hwB, t0.Add(time.Minute)); b == cfg.RangeStart || slices.Contains(p.probed, cfg.RangeStart) {
		t.Errorf("B got %v after probing %v", b, p.probed)
	}
	// A renewing client is not probed.
	p.probed = nil
	renew := msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithClientIP(ip(a)))
	resp, err := handle(t, h, renew, t0.Add(time.Hour))
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	if len(p.probed) != 0 {
		t.Errorf("renewal probed %v", p.probed)
	}
}

func TestExhausted(t *testing.T) {
	cfg := serverConfig()
	cfg.RangeEnd = netip.MustParseAddr("198.18.0.101")
	h := newHandler(t, cfg, nil)
	dora(t, h, hwA, t0)
	dora(t, h, hwB, t0)
	resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwC), t0)
	if resp != nil || !errors.Is(err, ErrExhausted) {
		t.Fatalf("got %v, %v; want ErrExhausted", resp, err)
	}
	// Once A's lease has expired, C may take it.
	if c := dora(t, h, hwC, t0.Add(3*time.Hour)); !cfg.InRange(c) {
		t.Errorf("C got %v", c)
	}
}

func TestDecline(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	a := dora(t, h, hwA, t0)
	decl := msg(t, dhcpv4.MessageTypeDecline, hwA,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(a))))
	if resp, err := handle(t, h, decl, t0); resp != nil || err != nil {
		t.Fatalf("decline: %v, %v", resp, err)
	}
	if b := dora(t, h, hwA, t0.Add(time.Second)); b == a {
		t.Errorf("declined address %v offered again", a)
	}
	if s := h.Stats(); s.Declines != 1 {
		t.Errorf("stats %+v", s)
	}
}
