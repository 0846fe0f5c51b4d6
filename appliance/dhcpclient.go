package appliance

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/ntpbox/ntpbox/config"
)

// This file is the box's DHCP client (RFC 2131 §4.4), a state machine
// over a transport that sends a message and waits for its reply:
//
//	INIT        DISCOVER, OFFER, REQUEST, ACK; retried with a growing pause
//	            (at most dhcpMaxPause) for as long as it takes: a LAN whose
//	            DHCP server comes back after a power cut is served when it
//	            does, without a reboot
//	BOUND       until T1 (option 58, else half the lease)
//	RENEWING    REQUEST to the server that leased, until T2
//	REBINDING   REQUEST to anyone (broadcast), until the lease ends
//	expiry, NAK the address is removed and the client starts over
//	link up     INIT-REBOOT: a broadcast REQUEST for the address it holds,
//	            as after a cable was moved; a NAK ends the lease
//
// Each lease, renewal with changes, and loss is an event for init, which
// applies the address and merges the lease into the config.

// DHCPOptions are the options the client asks for: the subnet mask,
// router and DNS servers to configure, the domain, the NTP servers (option
// 42, RFC 2132 §8.3), the log servers (option 7, §3.7, for `logserver
// auto`), and the lease timers.
var DHCPOptions = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName,
	dhcpv4.OptionNTPServers, dhcpv4.OptionLogServer, dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue,
}

// Client timing.
var (
	dhcpFirstPause = 2 * time.Second  // after the first failed DISCOVER exchange
	dhcpMaxPause   = 10 * time.Second // the pause grows to this, and stays
	dhcpMinRenew   = 30 * time.Second // between RENEWING and REBINDING requests, at most half the time left
	defaultLease   = time.Hour        // when the ACK gives none
)

// dhcpTransport sends DHCP messages on one interface.
type dhcpTransport interface {
	// Exchange sends msg to to:67 (broadcast when to is invalid), and
	// returns the first reply with msg's transaction id and hardware
	// address that accept takes, retransmitting as RFC 2131 §4.1 says,
	// until ctx ends or it gives up.
	Exchange(ctx context.Context, msg *dhcpv4.DHCPv4, to netip.Addr, accept func(*dhcpv4.DHCPv4) bool) (*dhcpv4.DHCPv4, error)
	Close() error
}

// LeaseEvent is a change of the box's DHCP lease: a lease taken or
// renewed (Lease set), or lost (Lease nil) with the reason. TimesOnly is
// a renewal that changed nothing but the lease's times.
type LeaseEvent struct {
	Lease     *config.Lease
	Reason    string
	TimesOnly bool
}

// dhcpClient keeps one interface leased.
type dhcpClient struct {
	tr       dhcpTransport
	mac      net.HardwareAddr
	ifname   string
	hostname string
	log      *slog.Logger
	now      func() time.Time
	events   chan<- LeaseEvent
	linkUp   <-chan struct{} // a receive: the link came (back) up

	lease *config.Lease
	ack   *dhcpv4.DHCPv4
}

// xid returns a transaction id. It comes from math/rand/v2, which the
// runtime seeds without waiting for the kernel's random pool; an xid
// needs to be unlikely to collide, not secret.
func xid() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	v := rand.Uint32()
	x[0], x[1], x[2], x[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return x
}

// message builds a client message of type t. (dhcpv4.New would take its
// xid from a random source that blocks until the pool is ready.)
func (c *dhcpClient) message(t dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: c.mac, TransactionID: xid(),
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero, GatewayIPAddr: net.IPv4zero,
		Options: dhcpv4.Options{},
	}
	m.UpdateOption(dhcpv4.OptMessageType(t))
	m.UpdateOption(dhcpv4.OptParameterRequestList(DHCPOptions...))
	m.UpdateOption(dhcpv4.OptMaxMessageSize(1500))
	// The client identifier is the MAC (RFC 2132 §9.14, type 1), as most
	// clients send it, so that servers keep the lease across reboots.
	m.UpdateOption(dhcpv4.OptClientIdentifier(append([]byte{1}, c.mac...)))
	if c.hostname != "" {
		m.UpdateOption(dhcpv4.OptHostName(c.hostname))
	}
	for _, mod := range mods {
		mod(m)
	}
	return m
}

func isType(types ...dhcpv4.MessageType) func(*dhcpv4.DHCPv4) bool {
	return func(m *dhcpv4.DHCPv4) bool {
		for _, t := range types {
			if m.MessageType() == t {
				return true
			}
		}
		return false
	}
}

// run keeps the interface leased until ctx ends.
func (c *dhcpClient) run(ctx context.Context) {
	pause := dhcpFirstPause
	for ctx.Err() == nil {
		if c.lease == nil {
			if err := c.obtain(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Info("DHCP: no lease yet; asking again", "interface", c.ifname, "in", pause, "err", err)
				c.wait(ctx, pause)
				pause = min(2*pause, dhcpMaxPause)
				continue
			}
			pause = dhcpFirstPause
		}
		c.keep(ctx)
	}
}

// wait sleeps for d, or until ctx ends or the link comes up.
func (c *dhcpClient) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-c.linkUp:
	}
}

// obtain runs INIT: DISCOVER, OFFER, REQUEST, ACK.
func (c *dhcpClient) obtain(ctx context.Context) error {
	discover := c.message(dhcpv4.MessageTypeDiscover)
	offer, err := c.tr.Exchange(ctx, discover, netip.Addr{}, isType(dhcpv4.MessageTypeOffer))
	if err != nil {
		return err
	}
	req := c.message(dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))
	ack, err := c.tr.Exchange(ctx, req, netip.Addr{}, func(m *dhcpv4.DHCPv4) bool {
		return isType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)(m) && m.ServerIdentifier().Equal(offer.ServerIdentifier())
	})
	if err != nil {
		return err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return errors.New("NAK from " + ack.ServerIdentifier().String() + ": " + ack.Message())
	}
	return c.bound(ack, "lease")
}

// bound takes an ACK: a new lease, or a renewal.
func (c *dhcpClient) bound(ack *dhcpv4.DHCPv4, why string) error {
	l, err := leaseFromACK(c.ifname, ack, c.now())
	if err != nil {
		return err
	}
	same := c.lease != nil && sameLease(c.lease, l)
	c.lease, c.ack = l, ack
	c.events <- LeaseEvent{Lease: l, Reason: why, TimesOnly: same}
	return nil
}

// lose ends the lease.
func (c *dhcpClient) lose(why string) {
	c.log.Warn("DHCP: lease lost", "interface", c.ifname, "address", c.lease.Address, "why", why)
	c.lease, c.ack = nil, nil
	c.events <- LeaseEvent{Reason: why}
}

// keep runs BOUND, RENEWING and REBINDING until the lease is lost or ctx
// ends.
func (c *dhcpClient) keep(ctx context.Context) {
	for c.lease != nil && ctx.Err() == nil {
		l := c.lease
		t1 := l.Obtained.Add(c.ack.IPAddressRenewalTime(l.Duration / 2))
		t2 := l.Obtained.Add(c.ack.IPAddressRebindingTime(l.Duration * 7 / 8))
		end := l.Expires()
		now := c.now()
		var next time.Time
		switch {
		case now.Before(t1):
			next = t1
		case now.Before(end):
			next = now.Add(min(max(end.Sub(now)/2, time.Second), dhcpMinRenew))
			if next.After(end) {
				next = end
			}
			rebinding := !now.Before(t2)
			if c.renew(ctx, rebinding) {
				continue
			}
			if c.lease == nil {
				return // NAK
			}
		default:
			c.lose("lease expired without a renewal")
			return
		}
		t := time.NewTimer(max(next.Sub(c.now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.linkUp:
			t.Stop()
			c.reboot(ctx)
		}
	}
}

// renew asks to extend the lease: unicast to the server that leased it
// (RENEWING), or broadcast to any (REBINDING). It reports whether an ACK
// came; after a NAK the lease is gone.
func (c *dhcpClient) renew(ctx context.Context, rebinding bool) bool {
	ip := net.IP(c.lease.Address.Addr().AsSlice())
	req := c.message(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(ip))
	to := c.lease.Server
	if rebinding {
		to = netip.Addr{}
	}
	// A renewal that outlives the lease would keep an address that is
	// no longer the box's.
	deadline := c.now().Add(10 * time.Second)
	if end := c.lease.Expires(); end.Before(deadline) {
		deadline = end
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	reply, err := c.tr.Exchange(ctx, req, to, isType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil {
		c.log.Info("DHCP: no answer to the renewal; keeping the lease until it ends", "interface", c.ifname,
			"rebinding", rebinding, "ends", c.lease.Expires().UTC().Format(time.RFC3339))
		return false
	}
	if reply.MessageType() == dhcpv4.MessageTypeNak {
		c.lose("NAK from " + reply.ServerIdentifier().String() + ": " + reply.Message())
		return false
	}
	if err := c.bound(reply, "renewed"); err != nil {
		c.log.Warn("DHCP: bad ACK to a renewal", "err", err)
		return false
	}
	return true
}

// reboot is INIT-REBOOT after the link came back up: the box may be on
// another LAN now, so it asks for its address by broadcast; a NAK ends
// the lease, an ACK renews it, silence keeps it.
func (c *dhcpClient) reboot(ctx context.Context) {
	if c.lease == nil {
		return
	}
	c.log.Info("DHCP: link up; checking the lease", "interface", c.ifname, "address", c.lease.Address)
	req := c.message(dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(c.lease.Address.Addr().AsSlice()))))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	reply, err := c.tr.Exchange(ctx, req, netip.Addr{}, isType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	switch {
	case err != nil:
		c.log.Info("DHCP: no answer after link up; keeping the lease", "interface", c.ifname)
	case reply.MessageType() == dhcpv4.MessageTypeNak:
		c.lose("NAK after link up from " + reply.ServerIdentifier().String() + ": " + reply.Message())
	default:
		if err := c.bound(reply, "confirmed after link up"); err != nil {
			c.log.Warn("DHCP: bad ACK after link up", "err", err)
		}
	}
}

// leaseFromACK is what an ACK gives the interface ifname, received at now.
func leaseFromACK(ifname string, ack *dhcpv4.DHCPv4, now time.Time) (*config.Lease, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsGlobalUnicast() {
		return nil, errors.New("DHCP ACK without a usable address")
	}
	server, _ := netip.AddrFromSlice(ack.ServerIdentifier().To4())
	if !server.IsValid() {
		return nil, errors.New("DHCP ACK without a server identifier")
	}
	bits := 24 // no subnet mask option, or one that is not a mask: assume a /24, as a home router would give
	if mask := ack.SubnetMask(); mask != nil {
		if b, size := mask.Size(); size == 32 {
			bits = b // Clamp below makes it at most a /16
		}
	}
	l := &config.Lease{
		Interface: ifname, Address: netip.PrefixFrom(ip, bits), Server: server, Domain: ack.DomainName(),
		Obtained: now, Duration: ack.IPAddressLeaseTime(defaultLease),
	}
	if l.Duration <= 0 {
		l.Duration = defaultLease
	}
	if r := ack.Router(); len(r) > 0 {
		l.Router = addr4(r[0])
	}
	for _, a := range ack.DNS() {
		if v := addr4(a); v.IsValid() && !v.IsUnspecified() {
			l.DNS = append(l.DNS, v)
		}
	}
	for _, a := range ack.NTPServers() {
		if v := addr4(a); v.IsValid() {
			l.NTP = append(l.NTP, v)
		}
	}
	if b := ack.Options.Get(dhcpv4.OptionLogServer); len(b)%4 == 0 {
		for i := 0; i < len(b); i += 4 {
			l.Log = append(l.Log, netip.AddrFrom4([4]byte(b[i:i+4])))
		}
	}
	// What only the admin may decide (issue 11): how wide `allow
	// connected` is, and how many sources the LAN adds.
	l.Clamp()
	return l, nil
}

// sameLease reports whether a renewal changed nothing but the times.
func sameLease(a, b *config.Lease) bool {
	return a.Interface == b.Interface && a.Address == b.Address && a.Router == b.Router && a.Server == b.Server &&
		a.Domain == b.Domain && slices.Equal(a.DNS, b.DNS) && slices.Equal(a.NTP, b.NTP) && slices.Equal(a.Log, b.Log)
}

func addr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}
