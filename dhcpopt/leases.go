package dhcpopt

import (
	"net/netip"
	"sort"
	"time"
)

// offerHold is how long an offered address stays reserved for the client
// that was offered it.
const offerHold = time.Minute

// conflictHold is how long an address found in use (by the Prober or a
// DHCPDECLINE) is left alone.
const conflictHold = 10 * time.Minute

// Lease binds an address to a client. Expired leases are kept so that a
// returning client gets its old address back while nobody else took it.
type Lease struct {
	// Client is the client identifier (option 61) as "id:HEX", or the
	// hardware address as "hw:aa:bb:...".
	Client   string     `json:"client"`
	Addr     netip.Addr `json:"addr"`
	Expires  time.Time  `json:"expires"`
	Hostname string     `json:"hostname,omitempty"`
	// Offered is true while the address is only offered, not yet bound.
	Offered bool `json:"offered,omitempty"`
}

// leaseTable is the handler's lease state.
type leaseTable struct {
	byClient  map[string]*Lease
	byAddr    map[netip.Addr]*Lease
	conflicts map[netip.Addr]time.Time // address -> until
}

func newLeaseTable() leaseTable {
	return leaseTable{
		byClient:  map[string]*Lease{},
		byAddr:    map[netip.Addr]*Lease{},
		conflicts: map[netip.Addr]time.Time{},
	}
}

func (t *leaseTable) put(l Lease) {
	if old, ok := t.byClient[l.Client]; ok {
		delete(t.byAddr, old.Addr)
	}
	if old, ok := t.byAddr[l.Addr]; ok {
		delete(t.byClient, old.Client)
	}
	p := &l
	t.byClient[l.Client] = p
	t.byAddr[l.Addr] = p
}

func (t *leaseTable) remove(client string) {
	if l, ok := t.byClient[client]; ok {
		delete(t.byAddr, l.Addr)
		delete(t.byClient, client)
	}
}

// active reports whether l holds its address at now.
func (l *Lease) active(now time.Time) bool { return now.Before(l.Expires) }

// usableBy reports whether client may be given a at now: no other client
// holds it and it is not quarantined.
func (t *leaseTable) usableBy(a netip.Addr, client string, now time.Time) bool {
	if until, ok := t.conflicts[a]; ok && now.Before(until) {
		return false
	}
	l, ok := t.byAddr[a]
	return !ok || l.Client == client || !l.active(now)
}

func (t *leaseTable) conflict(a netip.Addr, now time.Time) {
	t.conflicts[a] = now.Add(conflictHold)
	if l, ok := t.byAddr[a]; ok {
		delete(t.byClient, l.Client)
		delete(t.byAddr, a)
	}
}

// snapshot returns the bound leases sorted by address.
func (t *leaseTable) snapshot() []Lease {
	out := make([]Lease, 0, len(t.byAddr))
	for _, l := range t.byAddr {
		if !l.Offered {
			out = append(out, *l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// candidates yields free addresses for a new client in the order they should
// be tried: never-used addresses first, then the longest-expired ones, so a
// client that goes away keeps its address as long as possible.
func (t *leaseTable) candidates(c *Config, client string, now time.Time, limit int) []netip.Addr {
	var fresh []netip.Addr
	var expired []*Lease
	for a := c.RangeStart; a.IsValid() && !c.RangeEnd.Less(a) && len(fresh) < limit; a = a.Next() {
		if a == c.ServerID || a == c.Router || !t.usableBy(a, client, now) {
			continue
		}
		if l, ok := t.byAddr[a]; ok && l.Client != client {
			expired = append(expired, l)
			continue
		}
		fresh = append(fresh, a)
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].Expires.Before(expired[j].Expires) })
	for _, l := range expired {
		if len(fresh) >= limit {
			break
		}
		fresh = append(fresh, l.Addr)
	}
	return fresh
}
