//go:build linux

package appliance

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// DHCP timing: how long boot waits for the first lease, and how often it
// asks again afterwards when it got none, or when a renewal failed.
const (
	dhcpBootTimeout = 60 * time.Second
	dhcpRetry       = 30 * time.Second
)

// dhcp brings the link up and asks for a lease on it (nclient4, raw
// sockets: the link has no address yet), applies it and keeps renewing
// it in the background. Without a lease after dhcpBootTimeout it returns
// an error and goes on asking in the background: the address is applied
// when one comes (the config, written by then, has no NTP servers or
// subnet from it).
func (l *Linux) dhcp(link netlink.Link, n Network) (Network, error) {
	name := link.Attrs().Name
	if err := netlink.LinkSetUp(link); err != nil {
		return n, fmt.Errorf("set %s up: %w", name, err)
	}
	c, err := nclient4.New(name, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(4))
	if err != nil {
		return n, fmt.Errorf("DHCP client on %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dhcpBootTimeout)
	lease, err := request(ctx, c)
	cancel()
	if err != nil {
		go l.keepLease(c, link, nil, n)
		return n, fmt.Errorf("DHCP on %s: %w (still asking)", name, err)
	}
	got, err := l.applyLease(link, lease, Network{})
	if err != nil {
		return got, err
	}
	go l.keepLease(c, link, lease, got)
	return got, nil
}

// request asks for a new lease until ctx ends.
func request(ctx context.Context, c *nclient4.Client) (*nclient4.Lease, error) {
	for {
		lease, err := c.Request(ctx, dhcpv4.WithRequestedOptions(DHCPOptions...))
		if err == nil {
			return lease, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}

// applyLease configures what the lease gives, replacing the address of
// the previous lease (old) if it changed.
func (l *Linux) applyLease(link netlink.Link, lease *nclient4.Lease, old Network) (Network, error) {
	got, _, err := LeaseNetwork(link.Attrs().Name, lease.ACK)
	if err != nil {
		return old, err
	}
	if len(old.Addresses) > 0 && old.Addresses[0] == got.Addresses[0] {
		return got, nil
	}
	for _, p := range old.Addresses {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := netlink.AddrDel(link, a); err != nil {
			l.Log.Warn("remove the old DHCP address", "address", p, "err", err)
		}
	}
	if len(old.Addresses) > 0 {
		l.Log.Warn("DHCP gave a new address; the config still allows the old subnet", "old", old.Addresses, "new", got.Addresses)
	}
	l.Log.Info("DHCP lease", "address", got.Addresses, "gateway", got.Gateway, "server", lease.ACK.ServerIdentifier(),
		"lease", lease.ACK.IPAddressLeaseTime(defaultLease))
	return got, l.apply(link, got)
}

// keepLease renews the lease at its T1 (or gets one, when lease is nil)
// for as long as the machine runs. When renewing fails past the lease's
// end it asks for a new lease; meanwhile it keeps the address: a time
// server that drops off the network serves nobody.
func (l *Linux) keepLease(c *nclient4.Client, link netlink.Link, lease *nclient4.Lease, cur Network) {
	defer func() {
		if r := recover(); r != nil {
			l.Log.Error("panic", "in", "DHCP", "panic", r)
		}
	}()
	wait := dhcpRetry
	if lease != nil {
		_, wait, _ = LeaseNetwork(cur.Interface, lease.ACK)
	}
	for {
		time.Sleep(wait)
		ctx, cancel := context.WithTimeout(context.Background(), dhcpRetry)
		var next *nclient4.Lease
		var err error
		if lease != nil {
			next, err = c.Renew(ctx, lease, dhcpv4.WithRequestedOptions(DHCPOptions...))
			if err != nil && time.Now().After(lease.CreationTime.Add(lease.ACK.IPAddressLeaseTime(defaultLease))) {
				next, err = c.Request(ctx, dhcpv4.WithRequestedOptions(DHCPOptions...))
			}
		} else {
			next, err = c.Request(ctx, dhcpv4.WithRequestedOptions(DHCPOptions...))
		}
		cancel()
		if err != nil {
			l.Log.Warn("DHCP: no lease; keeping the address", "address", cur.Addresses, "err", err)
			wait = dhcpRetry
			continue
		}
		got, err := l.applyLease(link, next, cur)
		if err != nil {
			l.Log.Error("apply DHCP lease", "err", err)
		}
		lease, cur = next, got
		_, wait, _ = LeaseNetwork(cur.Interface, lease.ACK)
	}
}
