package appliance

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
)

// NetOps is what init does to the network: the kernel's links, as
// netlink sees them, and a DHCP client. [LinuxNet] is the real one;
// tests use a fake.
type NetOps interface {
	// Loopback brings up lo.
	Loopback() error
	// WaitLink waits up to timeout for the named interface, or for the
	// first Ethernet interface (by name) when name is "", and brings
	// it up.
	WaitLink(name string, timeout time.Duration) (netstate.Link, error)
	// SetAddrs makes want the addresses of link (IPv6 link-local ones
	// are the kernel's and stay).
	SetAddrs(link string, want []netip.Prefix) error
	// SetGateway makes gw the default route of its family through link;
	// an invalid gw removes the IPv4 default route.
	SetGateway(link string, gw netip.Addr) error
	// Links follows the links' state (netstate.Watch).
	Links(ctx context.Context) <-chan netstate.State
	// DHCP starts a DHCP client on link that sends hostname (option 12)
	// and reports each lease change on events, until ctx ends. linkUp
	// receives when the link comes back up (the client then checks its
	// lease).
	DHCP(ctx context.Context, link netstate.Link, hostname string, linkUp <-chan struct{}, events chan<- LeaseEvent, log *slog.Logger) error
}

// linkWait bounds how long init waits for the Ethernet interface to
// appear once its driver is loaded.
const linkWait = 15 * time.Second

// hostnameFor is the name the box gives itself and sends to the DHCP
// server: the config's `hostname`, else ntpbox- and the MAC's last three
// octets.
func hostnameFor(configured string, mac net.HardwareAddr) string {
	if configured != "" {
		return configured
	}
	return config.DefaultHostname(mac)
}

// network is init's side of the box's network: the link, the addresses
// it gives it (static, or the DHCP lease's), and what follows from the
// lease.
type network struct {
	in       *Init
	cfg      *config.Config
	link     netstate.Link // "" until found
	hostname string
	lease    *config.Lease
	leases   chan LeaseEvent
	linkUp   chan struct{}
	found    chan netstate.Link // the link, when it was not there at boot
	// lastBanner is what the last banner said, less the lease's time.
	lastBanner string
	up         bool // the link has a carrier
	everUp     bool // it had one since boot: a carrier now is the cable coming back
}

// start finds the link and configures it: the static addresses, or a
// DHCP client. Without a link it keeps looking in the background.
func (nw *network) start(ctx context.Context) {
	in := nw.in
	if err := in.Net.Loopback(); err != nil {
		in.Log.Error("loopback", "err", err)
	}
	nw.hostname = hostnameFor(nw.cfg.Network.Hostname, nil)
	link, err := in.Net.WaitLink(nw.cfg.Network.Interface, linkWait)
	if err != nil {
		in.Log.Error("no network interface yet; looking again every 10 s", "err", err)
		go func() {
			defer in.recoverLog("network")
			for ctx.Err() == nil {
				time.Sleep(10 * time.Second)
				if link, err := in.Net.WaitLink(nw.cfg.Network.Interface, time.Second); err == nil {
					in.Log.Info("network interface found", "interface", link.Name)
					nw.found <- link
					return
				}
			}
		}()
		in.setHostname(nw.hostname)
		return
	}
	nw.configure(ctx, link)
}

// configure sets up a link once found.
func (nw *network) configure(ctx context.Context, link netstate.Link) {
	in := nw.in
	nw.link = link
	nw.hostname = hostnameFor(nw.cfg.Network.Hostname, link.MAC)
	in.setHostname(nw.hostname)
	in.Log.Info("interface up", "name", link.Name, "mac", link.MAC.String(), "hostname", nw.hostname)
	if nw.cfg.Network.DHCP {
		if err := in.Net.DHCP(ctx, link, nw.hostname, nw.linkUp, nw.leases, in.Log.With("component", "dhcp-client")); err != nil {
			in.Log.Error("DHCP client", "err", err)
		}
		return
	}
	nw.apply(nw.cfg.Network.Addresses, nw.cfg.Network.Gateway)
	in.Log.Info("network configured", "addresses", nw.cfg.Network.Addresses, "gateway", nw.cfg.Network.Gateway)
}

// apply gives the link addrs and the default route through gw. (The
// service resolves names with the config's resolvers itself: no
// /etc/resolv.conf.)
func (nw *network) apply(addrs []netip.Prefix, gw netip.Addr) {
	in := nw.in
	if err := in.Net.SetAddrs(nw.link.Name, addrs); err != nil {
		in.Log.Error("set addresses", "interface", nw.link.Name, "err", err)
	}
	if err := in.Net.SetGateway(nw.link.Name, gw); err != nil {
		in.Log.Error("set default route", "interface", nw.link.Name, "err", err)
	}
}

// applyLease configures what a lease event changes.
func (nw *network) applyLease(ev LeaseEvent) {
	in := nw.in
	old := nw.lease
	nw.lease = ev.Lease
	switch {
	case ev.Lease == nil:
		in.Log.Warn("DHCP lease gone: the address is removed until a new lease comes", "interface", nw.link.Name, "why", ev.Reason)
		nw.apply(nil, netip.Addr{})
	case ev.TimesOnly:
		in.Log.Debug("DHCP lease renewed", "address", ev.Lease.Address, "until", ev.Lease.Expires())
	default:
		l := ev.Lease
		// A lease means the cable worked, even if the kernel has not
		// reported the carrier yet: a carrier from now on is the cable
		// coming back, and the lease is checked.
		nw.everUp = true
		gw := nw.cfg.Network.Gateway
		if !gw.IsValid() {
			gw = l.Router
		}
		if old != nil && old.Address != l.Address {
			in.Log.Warn("DHCP gave a new address", "old", old.Address, "new", l.Address)
		}
		for _, c := range l.Clamped {
			in.Log.Warn("DHCP lease clamped", "why", c)
		}
		in.Log.Info("DHCP lease", "address", l.Address, "router", l.Router, "dns", l.DNS, "ntp", l.NTP,
			"server", l.Server, "lease", l.Duration, "why", ev.Reason)
		nw.apply([]netip.Prefix{l.Address}, gw)
	}
}

// followLinks reacts to a change of the links: it tells the DHCP client
// when the link came back up, and gives a static link its route again
// (the kernel drops it with the link). It reports whether the banner
// should be printed again (the link went up or down, or addresses
// changed).
func (nw *network) followLinks(prev, st netstate.State) bool {
	l, ok := st.Link(nw.link.Name)
	if !ok || nw.link.Name == "" {
		return false
	}
	was, _ := prev.Link(nw.link.Name)
	changed := l.Carrier != was.Carrier || !slices.Equal(l.Addrs, was.Addrs)
	if l.Carrier && !nw.up && nw.everUp {
		nw.in.Log.Info("link up", "interface", l.Name)
		if nw.cfg.Network.DHCP {
			select {
			case nw.linkUp <- struct{}{}:
			default:
			}
		} else if nw.cfg.Network.Gateway.IsValid() {
			nw.apply(nw.cfg.Network.Addresses, nw.cfg.Network.Gateway)
		}
	} else if !l.Carrier && (nw.up || was.Carrier) {
		nw.in.Log.Warn("link down", "interface", l.Name)
	}
	nw.up = l.Carrier
	nw.everUp = nw.everUp || l.Carrier
	return changed
}
