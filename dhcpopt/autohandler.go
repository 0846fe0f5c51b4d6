package dhcpopt

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// This file is the handler's side of ModeAuto: the state set by SetAuto,
// the retry gate before an offer, the answers while not leasing, and the
// passive detection of other servers.

// Sighting is another DHCP server named by a client: a broadcast
// DHCPREQUEST (selecting) or DHCPDECLINE whose server identifier (option
// 54) is not the box. The client was offered an address by that server,
// so it exists and serves this segment.
type Sighting struct {
	Server netip.Addr
	At     time.Time
	Client string // the client's key, as in Lease.Client
}

// maxSightings bounds the sightings kept until TakeSightings.
const maxSightings = 16

// maxAttempts bounds the clients whose DISCOVER attempts are tracked.
const maxAttempts = 1024

// attempt is one client's run of DISCOVERs.
type attempt struct{ first, last time.Time }

// SetAuto applies a `dhcp auto` decision to a ModeAuto handler and
// returns the decision in effect; other modes ignore it. While sightings
// wait to be taken (TakeSightings), a decision to lease is not applied:
// the handler stopped leasing when it saw them, and the caller decides
// again once it took them.
func (h *Handler) SetAuto(d AutoDecision) AutoDecision {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.Mode == ModeAuto && (d.Mode != AutoLease || len(h.sightings) == 0) {
		h.auto = d
	}
	return h.auto
}

// Auto returns the `dhcp auto` decision the handler follows.
func (h *Handler) Auto() AutoDecision {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.auto
}

// TakeSightings returns the other servers clients named since the last
// call, one entry per server (the latest), and forgets them.
func (h *Handler) TakeSightings() []Sighting {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sightings
	h.sightings = nil
	return s
}

// Sighted receives a value when a new sighting waits to be taken.
func (h *Handler) Sighted() <-chan struct{} { return h.sighted }

// observe records the server a client names, in any mode. In auto mode,
// unless off, the handler stops leasing at once and yields to it.
func (h *Handler) observe(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, key string, now time.Time) {
	if mt != dhcpv4.MessageTypeRequest && mt != dhcpv4.MessageTypeDecline {
		return
	}
	sid := addr4(req.ServerIdentifier())
	if !sid.IsValid() || sid == h.cfg.ServerID || sid.IsLoopback() || sid.IsMulticast() || sid == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return
	}
	s := Sighting{Server: sid, At: now, Client: key}
	found := false
	for i := range h.sightings {
		if h.sightings[i].Server == sid {
			h.sightings[i], found = s, true
		}
	}
	if !found && len(h.sightings) < maxSightings {
		h.sightings = append(h.sightings, s)
	}
	select {
	case h.sighted <- struct{}{}:
	default:
	}
	if h.cfg.Mode == ModeAuto && h.auto.Mode != AutoOff && !h.auto.Yield {
		h.auto = AutoDecision{Mode: AutoInform, Yield: true,
			Server: SeenServer{Server: sid, Subnet: h.cfg.Subnet.Masked(), LastSeen: now, How: SeenPassive},
			Reason: fmt.Sprintf("a client's request named another DHCP server, %v", sid)}
	}
}

// retried records a DISCOVER of the client key and reports whether the
// client has been asking for RetryAfter: since the first DISCOVER of its
// attempt, or by the secs field.
func (h *Handler) retried(req *dhcpv4.DHCPv4, key string, now time.Time) bool {
	a, ok := h.attempts[key]
	if !ok || now.Sub(a.last) > retryWindow || now.Before(a.first) {
		if len(h.attempts) >= maxAttempts {
			for k, v := range h.attempts {
				if now.Sub(v.last) > retryWindow || now.Before(v.first) {
					delete(h.attempts, k)
				}
			}
			if len(h.attempts) >= maxAttempts {
				clear(h.attempts)
			}
		}
		a = attempt{first: now}
	}
	a.last = now
	h.attempts[key] = a
	return now.Sub(a.first) >= RetryAfter || time.Duration(req.NumSeconds)*time.Second >= RetryAfter
}

// notLeasing answers in auto mode while the box does not lease: DISCOVER
// is ignored (but counts for the client's attempt). While yielding to
// another server, a DHCPREQUEST for a lease of the box's gets a NAK so
// that the client goes back to DISCOVER and reaches that server:
// selecting the box's offer, or confirming, renewing or rebinding an
// active lease of the box's. A client that selected another server
// loses its lease here. Anything else is ignored: the box is not
// authoritative.
func (h *Handler) notLeasing(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, key string, now time.Time) (*dhcpv4.DHCPv4, error) {
	if mt == dhcpv4.MessageTypeDiscover {
		h.retried(req, key, now)
	}
	if mt != dhcpv4.MessageTypeRequest || !h.auto.Yield {
		return nil, fmt.Errorf("%w: %v while not leasing (%s)", ErrIgnored, mt, h.auto.Reason)
	}
	l := h.leases.byClient[key]
	if req.Options.Has(dhcpv4.OptionServerIdentifier) {
		if addr4(req.ServerIdentifier()) == h.cfg.ServerID {
			if l != nil && l.Offered {
				h.leases.remove(key)
			}
			return h.nak(req, "this server no longer leases: another DHCP server serves this network"), nil
		}
		if l != nil && l.active(now) {
			h.end(l, now)
		}
		return nil, fmt.Errorf("%w: client selected server %v", ErrIgnored, req.ServerIdentifier())
	}
	a := addr4(req.ClientIPAddr)
	if !a.IsValid() {
		a = addr4(req.RequestedIPAddress())
	}
	if l == nil || l.Offered || l.Addr != a || !l.active(now) {
		return nil, fmt.Errorf("%w: DHCPREQUEST for %v, not an active lease of this box", ErrIgnored, a)
	}
	h.end(l, now)
	return h.nak(req, "this server no longer leases: another DHCP server serves this network"), nil
}

// end ends a bound lease at now, keeping the binding.
func (h *Handler) end(l *Lease, now time.Time) {
	if l.Offered {
		h.leases.remove(l.Client)
		return
	}
	l.Expires = now
	h.gen++
}
