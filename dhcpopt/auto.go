package dhcpopt

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// This file is the policy of `dhcp auto`: whether the box leases
// addresses, answers DHCPINFORM only, or stays silent. [DecideAuto] is a
// pure function of what the box knows; the caller searches for other
// servers ([ProbeServers]), collects what the [Handler] saw passively
// ([Handler.TakeSightings]), keeps the record ([SaveServers]) and applies
// the decision ([Handler.SetAuto]).

// AddrSource is how the box got its address on the LAN.
type AddrSource int

const (
	AddrNone   AddrSource = iota // no address yet
	AddrStatic                   // configured by hand
	AddrLeased                   // leased from a DHCP server
)

func (a AddrSource) String() string {
	switch a {
	case AddrNone:
		return "none"
	case AddrStatic:
		return "static"
	case AddrLeased:
		return "leased"
	}
	return fmt.Sprintf("AddrSource(%d)", int(a))
}

// AutoMode is what `dhcp auto` does.
type AutoMode int

const (
	// AutoOff answers nothing.
	AutoOff AutoMode = iota
	// AutoInform answers DHCPINFORM only.
	AutoInform
	// AutoLease leases addresses (short leases, only to clients that
	// retried: see [Config]) and answers DHCPINFORM.
	AutoLease
)

func (m AutoMode) String() string {
	switch m {
	case AutoOff:
		return "off"
	case AutoInform:
		return "inform"
	case AutoLease:
		return "lease"
	}
	return fmt.Sprintf("AutoMode(%d)", int(m))
}

// SeenHow is how another DHCP server was seen.
type SeenHow int

const (
	// SeenSearch: it answered the box's search ([ProbeServers]).
	SeenSearch SeenHow = iota
	// SeenPassive: a client's broadcast DHCPREQUEST or DHCPDECLINE named
	// it in option 54 (it made that client an offer).
	SeenPassive
)

func (h SeenHow) String() string {
	switch h {
	case SeenSearch:
		return "search"
	case SeenPassive:
		return "passive"
	}
	return fmt.Sprintf("SeenHow(%d)", int(h))
}

// SeenServer is another DHCP server seen on a subnet: one entry of the
// record `dhcp auto` keeps across restarts.
type SeenServer struct {
	Server   netip.Addr   // its server identifier (option 54)
	Subnet   netip.Prefix // the box's subnet when it was seen, masked
	LastSeen time.Time
	How      SeenHow // how it was last seen
}

// Policy constants of [DecideAuto].
const (
	// AutoSearches is how many consecutive searches must find no other
	// server before the box leases.
	AutoSearches = 3
	// SeenExpiry is how long a sighting of another server keeps the box
	// from leasing on that subnet: longer than any power cut or holiday
	// during which the LAN's server is off while the box runs, so that a
	// box booting before the router never leases on a LAN that has one;
	// finite, so that a box moved for good to a segment without a server
	// (with the same subnet) eventually leases there without a manual
	// step. Deleting the record file (dhcp.servers) forgets at once.
	SeenExpiry = 30 * 24 * time.Hour
)

// AutoInput is what [DecideAuto] decides from.
type AutoInput struct {
	Now     time.Time
	Address AddrSource
	Subnet  netip.Prefix // the box's subnet
	// Seen lists the other DHCP servers seen: by this run's searches,
	// passively, and the record of earlier runs, on any subnet.
	Seen []SeenServer
	// EmptySearches counts the consecutive searches that ran to their
	// end and found no other server; a search that could not run does
	// not count and does not break the run.
	EmptySearches int
	// SearchFailed: the last search could not run.
	SearchFailed bool
	// Leasing: the box leases now.
	Leasing bool
}

// AutoDecision is what `dhcp auto` does and why.
type AutoDecision struct {
	Mode AutoMode
	// Yield: another server owns the LAN's leases; the handler NAKs every
	// DHCPREQUEST for a lease of the box's, renewals included, so that
	// those clients go back to DISCOVER and reach that server.
	Yield bool
	// Server is the other server behind a Yield, when known.
	Server SeenServer
	Reason string
}

// DecideAuto is the `dhcp auto` policy, rules in order:
//
//	address   other server seen on   searches                  decision
//	          this subnet < 30 days
//	none      -                      -                         Off
//	leased    -                      -                         Inform, yield (the leasing server owns the LAN)
//	static    yes                    -                         Inform, yield
//	static    no                     last could not run        Lease if leasing already, else Inform
//	static    no                     < 3 empty in a row        Inform
//	static    no                     >= 3 empty in a row       Lease
//
// A sighting dated after in.Now (the clock went back, as after a power
// cut on a box without a battery-backed clock) counts as fresh.
func DecideAuto(in AutoInput) AutoDecision {
	switch in.Address {
	case AddrNone:
		return AutoDecision{Mode: AutoOff, Reason: "the box has no address on the LAN yet"}
	case AddrLeased:
		return AutoDecision{Mode: AutoInform, Yield: true,
			Reason: "the box's own address was leased by a DHCP server, which owns the LAN's leases"}
	}
	if s, ok := LatestSeen(in.Seen, in.Subnet, in.Now); ok {
		how := "answered the box's search"
		if s.How == SeenPassive {
			how = "was named by a client's request"
		}
		return AutoDecision{Mode: AutoInform, Yield: true, Server: s,
			Reason: fmt.Sprintf("another DHCP server, %v, %s on %v at %s (%s ago)", s.Server, how, s.Subnet,
				s.LastSeen.UTC().Format(time.RFC3339), ago(in.Now, s.LastSeen))}
	}
	switch {
	case in.SearchFailed && in.Leasing:
		return AutoDecision{Mode: AutoLease, Reason: "the last search for other DHCP servers could not run; still leasing"}
	case in.SearchFailed:
		return AutoDecision{Mode: AutoInform, Reason: "the last search for other DHCP servers could not run"}
	case in.EmptySearches < AutoSearches:
		return AutoDecision{Mode: AutoInform, Reason: fmt.Sprintf("searching for other DHCP servers: %d of %d searches found none",
			in.EmptySearches, AutoSearches)}
	}
	return AutoDecision{Mode: AutoLease, Reason: fmt.Sprintf("%d searches in a row found no other DHCP server, none was seen passively, none is recorded on %v",
		in.EmptySearches, in.Subnet)}
}

// LatestSeen returns the most recent sighting of another server on
// subnet that has not expired at now.
func LatestSeen(seen []SeenServer, subnet netip.Prefix, now time.Time) (SeenServer, bool) {
	var best SeenServer
	found := false
	for _, s := range seen {
		if s.Subnet.Masked() != subnet.Masked() || now.Sub(s.LastSeen) >= SeenExpiry {
			continue
		}
		if !found || s.LastSeen.After(best.LastSeen) {
			best, found = s, true
		}
	}
	return best, found
}

// ago says roughly how long before now t was: "3 days", "5 h", "12 min",
// "40 s"; "0 s" for a time after now.
func ago(now, t time.Time) string {
	d := max(now.Sub(t), 0)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d s", d/time.Second)
}

// maxSeen bounds the record.
const maxSeen = 32

// MergeSeen adds s to the record seen: it replaces the entry for the same
// server and subnet when s is newer, and drops the oldest entries beyond
// 32. It reports whether the record changed. The result is sorted by
// subnet and server.
func MergeSeen(seen []SeenServer, s SeenServer) ([]SeenServer, bool) {
	s.Subnet = s.Subnet.Masked()
	i := slices.IndexFunc(seen, func(e SeenServer) bool { return e.Server == s.Server && e.Subnet == s.Subnet })
	switch {
	case i >= 0 && !s.LastSeen.After(seen[i].LastSeen):
		return seen, false
	case i >= 0:
		seen = slices.Clone(seen)
		seen[i] = s
	default:
		seen = append(slices.Clone(seen), s)
	}
	if len(seen) > maxSeen {
		slices.SortFunc(seen, func(a, b SeenServer) int { return b.LastSeen.Compare(a.LastSeen) })
		seen = seen[:maxSeen]
	}
	slices.SortFunc(seen, func(a, b SeenServer) int {
		if c := a.Subnet.Addr().Compare(b.Subnet.Addr()); c != 0 {
			return c
		}
		if c := a.Subnet.Bits() - b.Subnet.Bits(); c != 0 {
			return c
		}
		return a.Server.Compare(b.Server)
	})
	return seen, true
}
