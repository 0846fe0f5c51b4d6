package config

import (
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
	Domain    string        `json:"domain,omitempty"`
	Server    netip.Addr    `json:"server"` // the DHCP server's identifier (option 54)
	Obtained  time.Time     `json:"obtained"`
	Duration  time.Duration `json:"duration"` // the lease time (option 51)
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
func (c *Config) addLease(l *Lease) {
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
