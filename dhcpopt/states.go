package dhcpopt

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// inform answers DHCPINFORM (RFC 2131 §3.4, §4.3.5): a DHCPACK with
// parameters only, ciaddr echoed, no yiaddr and no lease time.
func (h *Handler) inform(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	ci := addr4(req.ClientIPAddr)
	if !ci.IsValid() {
		return nil, fmt.Errorf("%w: DHCPINFORM without ciaddr", ErrIgnored)
	}
	r := h.newReply(req, dhcpv4.MessageTypeAck)
	r.ClientIPAddr = ip(ci)
	h.addParams(r, req)
	h.stats.Informs++
	return r, nil
}

// discover answers DHCPDISCOVER with an offer (RFC 2131 §4.3.1).
func (h *Handler) discover(req *dhcpv4.DHCPv4, key string, now time.Time) (*dhcpv4.DHCPv4, error) {
	if h.probing[key] {
		// A retransmission while its first DISCOVER is being probed:
		// that one answers.
		return nil, fmt.Errorf("%w: DISCOVER while an address is probed for the client", ErrIgnored)
	}
	a, ok := h.pick(req, key, now)
	if !ok {
		return nil, fmt.Errorf("%w: %v-%v", ErrExhausted, h.cfg.RangeStart, h.cfg.RangeEnd)
	}
	if l, ok := h.leases.byClient[key]; !ok || l.Addr != a || !l.active(now) {
		h.leases.put(Lease{Client: key, Addr: a, Expires: now.Add(offerHold), Offered: true, Hostname: hostname(req)})
	}
	r := h.newReply(req, dhcpv4.MessageTypeOffer)
	r.YourIPAddr = ip(a)
	h.addLease(r, h.cfg.lease())
	h.addParams(r, req)
	h.stats.Offers++
	return r, nil
}

// pick chooses the address to offer: the client's own (stable for a
// returning client), else the one it asks for, else a free one. Addresses
// the client does not hold yet are probed first, with h.mu released
// during each probe.
func (h *Handler) pick(req *dhcpv4.DHCPv4, key string, now time.Time) (netip.Addr, bool) {
	probes := 0
	try := func(a netip.Addr) bool {
		if !h.assignable(a, key, now) {
			return false
		}
		if l, ok := h.leases.byAddr[a]; ok && l.Client == key && l.active(now) {
			return true
		}
		if h.prober == nil {
			return true
		}
		if at, ok := h.probedFree[a]; ok && now.Sub(at) >= 0 && now.Sub(at) < probeFresh {
			// Found free moments ago, offered to a client that did not
			// take it: a flood of DISCOVERs does not make the box probe
			// the same address again and again.
			h.leases.put(Lease{Client: key, Addr: a, Expires: now.Add(offerHold), Offered: true, Hostname: hostname(req)})
			return true
		}
		if probes >= maxProbes {
			return false
		}
		probes++
		// The probe may take the prober's whole timeout: other clients
		// are served meanwhile, and the offer reserves a for this one so
		// that none of them is offered it too.
		h.leases.put(Lease{Client: key, Addr: a, Expires: now.Add(offerHold), Offered: true, Hostname: hostname(req)})
		h.probing[key] = true
		h.mu.Unlock()
		inUse := h.prober.InUse(a)
		h.mu.Lock()
		delete(h.probing, key)
		if inUse {
			h.leases.conflict(a, now)
			h.stats.Conflicts++
			if len(h.found) < maxFound {
				h.found = append(h.found, a)
			}
			h.gen++
			return false
		}
		h.probedFree[a] = now
		l, ok := h.leases.byAddr[a]
		return ok && l.Client == key
	}
	if l, ok := h.leases.byClient[key]; ok && try(l.Addr) {
		return l.Addr, true
	}
	if a := addr4(req.RequestedIPAddress()); a.IsValid() && try(a) {
		return a, true
	}
	for _, a := range h.leases.candidates(&h.cfg, key, now, 2*maxProbes) {
		if try(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// assignable reports whether key may hold a.
func (h *Handler) assignable(a netip.Addr, key string, now time.Time) bool {
	return h.cfg.InRange(a) && a != h.cfg.ServerID && a != h.cfg.Router && h.leases.usableBy(a, key, now)
}

// request answers DHCPREQUEST in the states of RFC 2131 §4.3.2.
func (h *Handler) request(req *dhcpv4.DHCPv4, key string, now time.Time) (*dhcpv4.DHCPv4, error) {
	ci := addr4(req.ClientIPAddr)
	want := addr4(req.RequestedIPAddress())
	l := h.leases.byClient[key]
	switch {
	case req.Options.Has(dhcpv4.OptionServerIdentifier):
		// SELECTING: the client picked an offer.
		if addr4(req.ServerIdentifier()) != h.cfg.ServerID {
			if l != nil && l.Offered {
				h.leases.remove(key)
			}
			return nil, fmt.Errorf("%w: client selected server %v", ErrIgnored, req.ServerIdentifier())
		}
		if !want.IsValid() {
			return nil, fmt.Errorf("%w: DHCPREQUEST (selecting) without requested address", ErrMalformed)
		}
		if l == nil || l.Addr != want || !h.assignable(want, key, now) {
			return h.nak(req, "address not offered"), nil
		}
		return h.ack(req, key, want, now), nil
	case want.IsValid() && !ci.IsValid():
		// INIT-REBOOT: the client checks its remembered address.
		return h.confirm(req, key, l, want, now)
	case ci.IsValid():
		// RENEWING (unicast) or REBINDING (broadcast): extend.
		return h.confirm(req, key, l, ci, now)
	}
	return nil, fmt.Errorf("%w: DHCPREQUEST without server identifier, requested address or ciaddr", ErrMalformed)
}

// confirm ACKs a client that still holds a, NAKs one whose address is wrong
// for this network or held by someone else, and stays silent about a
// client it has no record of (RFC 2131 §4.3.2); in auto mode, about any
// client it has no record of.
func (h *Handler) confirm(req *dhcpv4.DHCPv4, key string, l *Lease, a netip.Addr, now time.Time) (*dhcpv4.DHCPv4, error) {
	switch {
	case l == nil && h.cfg.Mode == ModeAuto:
		// Not authoritative: the client's lease is another server's.
		return nil, fmt.Errorf("%w: no record of client for %v", ErrIgnored, a)
	case !h.cfg.Subnet.Contains(a):
		return h.nak(req, "wrong network"), nil
	case l == nil && h.leases.usableBy(a, key, now):
		return nil, fmt.Errorf("%w: no record of client for %v", ErrIgnored, a)
	case l == nil || l.Addr != a || !h.assignable(a, key, now):
		return h.nak(req, "address not leased to you"), nil
	}
	return h.ack(req, key, a, now), nil
}

// ack binds a to key and builds the DHCPACK.
func (h *Handler) ack(req *dhcpv4.DHCPv4, key string, a netip.Addr, now time.Time) *dhcpv4.DHCPv4 {
	d := h.cfg.lease()
	h.leases.put(Lease{Client: key, Addr: a, Expires: now.Add(d), Hostname: hostname(req)})
	h.gen++
	r := h.newReply(req, dhcpv4.MessageTypeAck)
	r.ClientIPAddr = ip(addr4(req.ClientIPAddr))
	r.YourIPAddr = ip(a)
	h.addLease(r, d)
	h.addParams(r, req)
	h.stats.Acks++
	return r
}

// release ends the client's lease but keeps the binding, so the client gets
// the same address back while nobody else took it.
func (h *Handler) release(req *dhcpv4.DHCPv4, key string, now time.Time) error {
	if err := h.forUs(req); err != nil {
		return err
	}
	l, ok := h.leases.byClient[key]
	if !ok || l.Addr != addr4(req.ClientIPAddr) {
		return fmt.Errorf("%w: DHCPRELEASE for an address the client does not hold", ErrIgnored)
	}
	l.Expires, l.Offered = now, false
	h.gen++
	h.stats.Releases++
	return nil
}

// decline quarantines an address the client found in use.
func (h *Handler) decline(req *dhcpv4.DHCPv4, key string, now time.Time) error {
	if err := h.forUs(req); err != nil {
		return err
	}
	a := addr4(req.RequestedIPAddress())
	l, ok := h.leases.byClient[key]
	if !ok || l.Addr != a {
		return fmt.Errorf("%w: DHCPDECLINE for an address the client was not given", ErrIgnored)
	}
	h.leases.conflict(a, now)
	h.gen++
	h.stats.Declines++
	return nil
}

func (h *Handler) forUs(req *dhcpv4.DHCPv4) error {
	if req.Options.Has(dhcpv4.OptionServerIdentifier) && addr4(req.ServerIdentifier()) != h.cfg.ServerID {
		return fmt.Errorf("%w: for server %v", ErrIgnored, req.ServerIdentifier())
	}
	return nil
}
