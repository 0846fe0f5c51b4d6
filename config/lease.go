package config

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Lease is what a DHCP server gave the box: its address and what came
// with it. The appliance's DHCP client fills it; Merge adds it to the
// config as the lease layer, below the files and the command line:
//
//   - its address is the box's address when the config says `address
//     dhcp`;
//   - its router and DNS servers are used when the config names no
//     `gateway` or `nameserver`;
//   - its NTP servers (option 42) are added as sources, `server ADDR
//     iburst`, beside the configured ones, as chrony's NetworkManager
//     hook adds them through `sourcedir`.
type Lease struct {
	Interface string        `json:"interface"`
	Address   netip.Prefix  `json:"address"`
	Router    netip.Addr    `json:"router,omitzero"`
	DNS       []netip.Addr  `json:"dns,omitempty"`
	NTP       []netip.Addr  `json:"ntp,omitempty"`
	Log       []netip.Addr  `json:"log,omitempty"` // option 7's log servers, for `logserver auto`
	Domain    string        `json:"domain,omitempty"`
	Server    netip.Addr    `json:"server"` // the DHCP server's identifier (option 54)
	Obtained  time.Time     `json:"obtained"`
	Duration  time.Duration `json:"duration"` // the lease time (option 51)
	// Clamped says what Merge changed in the lease because a DHCP
	// server on the LAN may not decide it (see Clamp); `ntpbox config`
	// shows it.
	Clamped []string `json:"clamped,omitempty"`
}

// Limits on what a lease may decide (issue 11: never trust the LAN for
// what only the admin may decide).
const (
	// MinLeasePrefix4 is the shortest IPv4 prefix a lease may give the
	// box: `allow connected` then covers at most a /16.
	MinLeasePrefix4 = 16
	// MaxLeaseNTP is how many option 42 servers the box uses, as chrony
	// caps the sources of a sourcedir file.
	MaxLeaseNTP = 4
	// MaxLeaseLog is how many option 7 log servers the box keeps: the
	// first gets the log (`logserver auto`).
	MaxLeaseLog = 1
)

// Clamp applies the limits above to l, in place, and records in
// l.Clamped what it changed: a netmask wider than /16 becomes /16; the
// option 42 servers lose duplicates, addresses that are not unicast
// (loopback, multicast, broadcast, unspecified), the box's own address
// and own (the box's configured addresses), and are cut to the first 4.
// Clamping twice changes nothing more.
func (l *Lease) Clamp(own ...netip.Addr) {
	if l.Address.IsValid() && l.Address.Addr().Is4() && l.Address.Bits() < MinLeasePrefix4 {
		l.Clamped = appendOnce(l.Clamped, fmt.Sprintf("netmask /%d is wider than /%d: clamped to /%d", l.Address.Bits(), MinLeasePrefix4, MinLeasePrefix4))
		l.Address = netip.PrefixFrom(l.Address.Addr(), MinLeasePrefix4)
	}
	var keep []netip.Addr
	for _, a := range l.NTP {
		a = a.Unmap()
		switch {
		case slices.Contains(keep, a):
		case !a.IsGlobalUnicast() || l.Address.IsValid() && a == broadcast4(l.Address):
			l.Clamped = appendOnce(l.Clamped, "option 42: "+a.String()+" is not a unicast address: not used")
		case a == l.Address.Addr() || slices.Contains(own, a):
			l.Clamped = appendOnce(l.Clamped, "option 42: "+a.String()+" is the box itself: not used")
		case len(keep) == MaxLeaseNTP:
			l.Clamped = appendOnce(l.Clamped, fmt.Sprintf("option 42 named more than %d servers: only the first %d are used", MaxLeaseNTP, MaxLeaseNTP))
		default:
			keep = append(keep, a)
		}
	}
	l.NTP = keep
	var logs []netip.Addr
	for _, a := range l.Log {
		a = a.Unmap()
		switch {
		case slices.Contains(logs, a):
		case !a.IsGlobalUnicast() || a == l.Address.Addr() || slices.Contains(own, a) || l.Address.IsValid() && a == broadcast4(l.Address):
			l.Clamped = appendOnce(l.Clamped, "option 7: "+a.String()+" is not a unicast address of another host: not used")
		case len(logs) == MaxLeaseLog:
			l.Clamped = appendOnce(l.Clamped, fmt.Sprintf("option 7 named more than %d log servers: only the first is used", MaxLeaseLog))
		default:
			logs = append(logs, a)
		}
	}
	l.Log = logs
}

// broadcast4 is the directed broadcast address of an IPv4 prefix.
func broadcast4(p netip.Prefix) netip.Addr {
	if p.Bits() >= 31 {
		return netip.Addr{}
	}
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Expires is when the lease ends unless it is renewed.
func (l *Lease) Expires() time.Time { return l.Obtained.Add(l.Duration) }

func (l *Lease) origin(note string) Origin {
	o := Origin{Layer: LayerLease, Note: "from " + l.Server.String()}
	if note != "" {
		o.Note = note + " from " + l.Server.String()
	}
	return o
}

// addLease applies the lease layer to c: the lease itself, and its NTP
// servers as sources unless a configured source has the same address.
//
// The lease is clamped first (see Lease.Clamp), on a copy: the box's
// static addresses count as its own.
func (c *Config) addLease(l *Lease) {
	cp := *l
	cp.Clamped = slices.Clone(l.Clamped)
	var own []netip.Addr
	for _, p := range c.Network.Addresses {
		own = append(own, p.Addr())
	}
	cp.Clamp(own...)
	l = &cp
	c.Lease = l
	for _, a := range l.NTP {
		dup := slices.ContainsFunc(c.Sources, func(s Source) bool {
			h, err := netip.ParseAddr(s.Host)
			return err == nil && h.Unmap() == a
		})
		if dup {
			continue
		}
		s := DefaultSource(false)
		s.Origin, s.Host, s.IBurst = l.origin("option 42"), a.String(), true
		c.Sources = append(c.Sources, s)
	}
}

// Addresses are the box's addresses: the static ones, or the lease's.
func (c *Config) Addresses() []netip.Prefix {
	if c.Network.DHCP {
		if c.Lease != nil && c.Lease.Address.IsValid() {
			return []netip.Prefix{c.Lease.Address}
		}
		return nil
	}
	return c.Network.Addresses
}

// Router is the box's default gateway: `gateway`, else the lease's.
func (c *Config) Router() netip.Addr {
	if c.Network.Gateway.IsValid() || c.Lease == nil {
		return c.Network.Gateway
	}
	return c.Lease.Router
}

// Resolvers are the DNS servers the box asks: the `nameserver` lines,
// else the lease's.
func (c *Config) Resolvers() []netip.Addr {
	if len(c.Network.Nameservers) > 0 || c.Lease == nil {
		return c.Network.Nameservers
	}
	return c.Lease.DNS
}
