//go:build linux

package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/mdlayher/packet"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// LinuxNet is the real [NetOps]: netlink, and a DHCP client on a raw
// socket (the link has no address to send from yet).
type LinuxNet struct{}

var _ NetOps = LinuxNet{}

func (LinuxNet) Loopback() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

func (LinuxNet) WaitLink(name string, timeout time.Duration) (netstate.Link, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := findLink(name)
		if err == nil {
			if err := netlink.LinkSetUp(l); err != nil {
				return netstate.Link{}, fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
			}
			a := l.Attrs()
			return netstate.Link{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr}, nil
		}
		if time.Now().After(deadline) {
			return netstate.Link{}, fmt.Errorf("after %v: %w", timeout, err)
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

func (LinuxNet) SetAddrs(name string, want []netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find interface %s: %w", name, err)
	}
	have, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	var errs []error
	keep := map[netip.Prefix]bool{}
	for _, a := range have {
		ip, _ := netip.AddrFromSlice(a.IP)
		bits, _ := a.Mask.Size()
		p := netip.PrefixFrom(ip.Unmap(), bits)
		if ip.IsLinkLocalUnicast() {
			continue
		}
		wanted := false
		for _, w := range want {
			wanted = wanted || w == p
		}
		if wanted {
			keep[p] = true
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			errs = append(errs, fmt.Errorf("remove address %s from %s: %w", p, name, err))
		}
	}
	for _, p := range want {
		if keep[p] {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if err := netlink.AddrAdd(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("add address %s to %s: %w", p, name, err))
		}
	}
	return errors.Join(errs...)
}

func (LinuxNet) SetGateway(name string, gw netip.Addr) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find interface %s: %w", name, err)
	}
	if !gw.IsValid() {
		routes, _ := netlink.RouteList(link, netlink.FAMILY_V4)
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
				netlink.RouteDel(&r)
			}
		}
		return nil
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice()}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("default route via %s on %s: %w", gw, name, err)
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

func (LinuxNet) Links(ctx context.Context) <-chan netstate.State {
	return netstate.Watch(ctx, nil)
}

func (LinuxNet) DHCP(ctx context.Context, link netstate.Link, hostname string, linkUp <-chan struct{}, events chan<- LeaseEvent, log *slog.Logger) error {
	filter, err := assembledDHCPClientFilter()
	if err != nil {
		return fmt.Errorf("DHCP client on %s: %w", link.Name, err)
	}
	// Check now that the socket opens, so a broken interface is an
	// error here; each exchange then opens its own (see rawTransport).
	tr := rawTransport{ifname: link.Name, mac: link.MAC, filter: filter}
	conn, err := tr.open()
	if err != nil {
		return fmt.Errorf("DHCP client on %s: %w", link.Name, err)
	}
	conn.Close()
	c := &dhcpClient{
		tr: tr, mac: link.MAC, ifname: link.Name, hostname: hostname,
		log: log, now: time.Now, events: events, linkUp: linkUp,
	}
	go func() {
		// A bug in the client must not leave the box without an
		// address for good: log it and start the client over.
		for !runLogged(ctx, c, log) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
	}()
	return nil
}

// runLogged runs the client until ctx ends (true), or until it panics
// (false, logged).
func runLogged(ctx context.Context, c *dhcpClient, log *slog.Logger) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in the DHCP client; starting it over in 10 s", "panic", r)
			c.lease, c.ack = nil, nil
		}
	}()
	c.run(ctx)
	return true
}

// rawTransport is the [dhcpTransport] over nclient4 on a packet socket
// (the interface may have no address yet). The socket is open only
// during an exchange, and its BPF filter (dhcpClientFilter) passes only
// UDP datagrams to port 68: between a lease's renewals init reads
// nothing from the LAN (issue 11).
type rawTransport struct {
	ifname string
	mac    net.HardwareAddr
	filter []bpf.RawInstruction
}

func (t rawTransport) open() (net.PacketConn, error) {
	ifc, err := net.InterfaceByName(t.ifname)
	if err != nil {
		return nil, err
	}
	raw, err := packet.Listen(ifc, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: t.filter})
	if err != nil {
		return nil, err
	}
	return nclient4.NewBroadcastUDPConn(raw, &net.UDPAddr{Port: nclient4.ClientPort}), nil
}

func (t rawTransport) Exchange(ctx context.Context, msg *dhcpv4.DHCPv4, to netip.Addr, accept func(*dhcpv4.DHCPv4) bool) (*dhcpv4.DHCPv4, error) {
	conn, err := t.open()
	if err != nil {
		return nil, fmt.Errorf("DHCP client on %s: %w", t.ifname, err)
	}
	// Three tries an exchange, 2, 4 and 8 s apart (RFC 2131 §4.1's
	// doubling, cut short: the client's own loop asks again soon after).
	nc, err := nclient4.NewWithConn(conn, t.mac, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("DHCP client on %s: %w", t.ifname, err)
	}
	defer nc.Close() // closes conn
	dest := &net.UDPAddr{IP: net.IPv4bcast, Port: nclient4.ServerPort}
	if to.IsValid() {
		dest.IP = to.AsSlice()
	}
	return nc.SendAndRead(ctx, dest, msg, accept)
}

func (t rawTransport) Close() error { return nil }
