// Package netstate is the box's live view of its network links: which
// interfaces are up, their addresses, and so the subnets the box is on.
// A State is a pure value; Watch delivers a new one whenever the kernel
// reports a change, so that the services follow a lease that arrives,
// an address that changes and a link that goes down and up, without a
// restart.
//
// The kernel is the one source of truth: init configures addresses
// (from the config or a DHCP lease) with netlink, and every service
// reads the result here, never a copy of its own.
//
//	st, _ := netstate.Read()
//	for _, p := range st.Connected() {
//		fmt.Println("on", p) // 198.18.0.0/24
//	}
package netstate

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// State is the links at one moment.
type State struct {
	// Version counts the changes a Watch has seen; 0 for a State from
	// Read.
	Version uint64
	Links   []Link
}

// Link is one network interface.
type Link struct {
	Name     string
	Index    int
	MAC      net.HardwareAddr
	Up       bool // administratively up: its addresses are in use
	Carrier  bool // up and running: a cable is plugged in (what a DHCP client follows)
	Loopback bool
	// Addrs are the interface's addresses with their prefix lengths
	// (not masked), IPv4 unmapped, in the kernel's order.
	Addrs []netip.Prefix
}

// The widest subnets Connected gives: what a LAN can make `allow
// connected` cover (a DHCP server handing out netmask 0, a rogue router
// advertising a short prefix) stops there. An admin who serves a wider
// network says so: `allow 10.0.0.0/8`.
const (
	MinConnectedBits4 = 16
	MinConnectedBits6 = 48
)

// Connected returns the subnets of the addresses of the links that are
// up, masked, without loopback, each once: what `allow connected` allows.
// A subnet wider than a /16 (IPv4) or a /48 (IPv6) is narrowed to the
// /16 or /48 around the address. IPv6 link-local subnets are included;
// they are on the link by definition.
func (s State) Connected() []netip.Prefix {
	var out []netip.Prefix
	for _, l := range s.Links {
		if !l.Up || l.Loopback {
			continue
		}
		for _, p := range l.Addrs {
			minBits := MinConnectedBits4
			if p.Addr().Is6() {
				minBits = MinConnectedBits6
			}
			if p.Bits() < minBits {
				p = netip.PrefixFrom(p.Addr(), minBits)
			}
			m := p.Masked()
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// IsLocal reports whether a is an address of this machine, on any link,
// up or not: one of the links' addresses, an address in a loopback
// link's subnet (the kernel answers all of 127.0.0.0/8 on lo), or the
// unspecified address.
func (s State) IsLocal(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if a.IsUnspecified() {
		return true
	}
	for _, l := range s.Links {
		for _, p := range l.Addrs {
			if p.Addr() == a || l.Loopback && p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// Addrs returns the addresses of the links that are up, without loopback.
func (s State) Addrs() []netip.Prefix {
	var out []netip.Prefix
	for _, l := range s.Links {
		if !l.Up || l.Loopback {
			continue
		}
		for _, p := range l.Addrs {
			if !p.Addr().IsLoopback() {
				out = append(out, p)
			}
		}
	}
	return out
}

// Link returns the link called name.
func (s State) Link(name string) (Link, bool) {
	for _, l := range s.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// Equal reports whether s and t have the same links, ignoring Version.
func (s State) Equal(t State) bool {
	return slices.EqualFunc(s.Links, t.Links, func(a, b Link) bool {
		return a.Name == b.Name && a.Index == b.Index && a.Up == b.Up && a.Carrier == b.Carrier && a.Loopback == b.Loopback &&
			a.MAC.String() == b.MAC.String() && slices.Equal(a.Addrs, b.Addrs)
	})
}

// String is a one-line summary for logs: "eth0 up 198.18.0.2/24; lo up 127.0.0.1/8".
func (s State) String() string {
	var parts []string
	for _, l := range s.Links {
		state := "down"
		switch {
		case l.Carrier:
			state = "up"
		case l.Up:
			state = "no-carrier"
		}
		var addrs []string
		for _, p := range l.Addrs {
			addrs = append(addrs, p.String())
		}
		parts = append(parts, strings.TrimSpace(l.Name+" "+state+" "+strings.Join(addrs, " ")))
	}
	return strings.Join(parts, "; ")
}

// Read reads the links from the kernel once.
func Read() (State, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return State{}, &net.OpError{Op: "list", Net: "interfaces", Err: err}
	}
	var st State
	for _, ifc := range ifs {
		l := Link{
			Name: ifc.Name, Index: ifc.Index, MAC: ifc.HardwareAddr,
			Up:       ifc.Flags&net.FlagUp != 0,
			Carrier:  ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagRunning != 0,
			Loopback: ifc.Flags&net.FlagLoopback != 0,
		}
		if c, ok := lowerUp(ifc.Name); ok && l.Up {
			l.Carrier = c
		}
		as, err := ifc.Addrs()
		if err == nil {
			for _, a := range as {
				ipn, ok := a.(*net.IPNet)
				if !ok {
					continue
				}
				ip, ok := netip.AddrFromSlice(ipn.IP)
				if !ok {
					continue
				}
				bits, _ := ipn.Mask.Size()
				ip = ip.Unmap().WithZone("") // a Prefix has no zone; the link says which
				l.Addrs = append(l.Addrs, netip.PrefixFrom(ip, bits))
			}
		}
		st.Links = append(st.Links, l)
	}
	return st, nil
}
