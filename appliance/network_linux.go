//go:build linux

package appliance

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
)

// linkTimeout is how long ConfigureNetwork waits for the interface to
// appear once its driver is loaded.
const linkTimeout = 15 * time.Second

// ConfigureNetwork brings up lo, then, when n has addresses, the
// interface (n.Interface, or the first Ethernet interface by name) with
// those addresses and the default route through n.Gateway; with n.DHCP,
// the address, route and DNS servers a DHCP server leases (see
// [Linux.dhcp]).
func (l *Linux) ConfigureNetwork(n Network) (Network, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return n, fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return n, fmt.Errorf("set lo up: %w", err)
	}
	if len(n.Addresses) == 0 && !n.DHCP {
		return n, nil
	}
	link, err := waitLink(n.Interface, linkTimeout)
	if err != nil {
		return n, err
	}
	if n.DHCP {
		return l.dhcp(link, n)
	}
	return n, l.apply(link, n)
}

// apply gives the link n's addresses and default route, and brings it up.
func (l *Linux) apply(link netlink.Link, n Network) error {
	name := link.Attrs().Name
	var errs []error
	for _, p := range n.Addresses {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if err := netlink.AddrAdd(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("add address %s to %s: %w", p, name, err))
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	if n.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: n.Gateway.AsSlice()}
		if err := netlink.RouteAdd(r); err != nil {
			errs = append(errs, fmt.Errorf("add default route via %s: %w", n.Gateway, err))
		}
	}
	l.Log.Info("interface up", "name", name, "mac", link.Attrs().HardwareAddr.String())
	return errors.Join(errs...)
}

// waitLink waits for the named interface, or for any Ethernet one when
// name is "".
func waitLink(name string, timeout time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(timeout)
	for {
		if link, err := findLink(name); err == nil {
			return link, nil
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func findLink(name string) (netlink.Link, error) {
	if name != "" {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("find interface %s: %w", name, err)
		}
		return l, nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Name < links[j].Attrs().Name })
	for _, l := range links {
		a := l.Attrs()
		// An Ethernet device has a device/ link in sysfs; bridges,
		// tunnels and lo do not.
		if a.EncapType == "ether" && len(a.HardwareAddr) == 6 {
			if _, err := os.Stat("/sys/class/net/" + a.Name + "/device"); err == nil {
				return l, nil
			}
		}
	}
	return nil, errors.New("no Ethernet interface (is its driver in the initramfs?)")
}
