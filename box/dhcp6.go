package box

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
	"github.com/ntpbox/ntpbox/netstate"
)

// This file runs `dhcp6 inform`: stateless DHCPv6 on UDP 547 of the LAN
// interface, answering Information-Request with the NTP Server option 56
// (RFC 5908) and, with `dns zone`, the DNS options 23 and 24.

func wantsDHCP6(cfg *config.Config) bool {
	return cfg.DHCP6 != nil && cfg.DHCP6.Inform
}

// lan6 is the LAN interface as DHCPv6 sees it.
type lan6 struct {
	Name   string
	HWAddr net.HardwareAddr
	Addrs  []netip.Addr // its global IPv6 addresses (not link-local), in the kernel's order
}

// lanAddrs6 lists the links that are up, with their global IPv6
// addresses (not link-local, loopback or multicast), in the kernel's order.
func lanAddrs6(ns netstate.State) []lan6 {
	var out []lan6
	for _, l := range ns.Links {
		if !l.Up || l.Loopback {
			continue
		}
		c := lan6{Name: l.Name, HWAddr: l.MAC}
		for _, p := range l.Addrs {
			if ip := p.Addr(); ip.Is6() && ip.IsGlobalUnicast() {
				c.Addrs = append(c.Addrs, ip)
			}
		}
		out = append(out, c)
	}
	return out
}

// pickLAN6 chooses the interface DHCPv6 serves: the one holding the first
// IPv6 bindaddress, else the first local IPv6 advertise address, else the
// IPv4 LAN (v4name, from pickLAN, "" when there is none), else the first
// interface with a global IPv6 address. It must have a link-layer address
// for the server DUID.
func pickLAN6(cfg *config.Config, ifs []lan6, v4name string) (lan6, error) {
	holding := func(a netip.Addr) (lan6, bool) {
		for _, l := range ifs {
			for _, b := range l.Addrs {
				if a == b {
					return l, true
				}
			}
		}
		return lan6{}, false
	}
	var l lan6
	found := false
	for _, list := range [][]netip.Addr{cfg.BindAddresses, cfg.Advertise} {
		for _, a := range list {
			if l, found = holding(a); found {
				break
			}
		}
		if found {
			break
		}
	}
	if !found && v4name != "" {
		for _, c := range ifs {
			if c.Name == v4name {
				l, found = c, true
				break
			}
		}
	}
	if !found {
		for _, c := range ifs {
			if len(c.Addrs) > 0 && len(c.HWAddr) > 0 {
				l, found = c, true
				break
			}
		}
	}
	if !found {
		return lan6{}, errors.New("no interface with a global IPv6 address to serve DHCPv6 on")
	}
	if len(l.HWAddr) == 0 {
		return lan6{}, fmt.Errorf("interface %s has no link-layer address for the DHCPv6 server DUID", l.Name)
	}
	return l, nil
}

// boxAddr6 is the box's own IPv6 address on lan that serves the clients:
// with bindaddress lines, the first IPv6 one on lan; else lan's first
// global address. Invalid when there is none.
func boxAddr6(cfg *config.Config, lan lan6) netip.Addr {
	if len(cfg.BindAddresses) > 0 {
		for _, b := range cfg.BindAddresses {
			for _, a := range lan.Addrs {
				if a == b {
					return a
				}
			}
		}
		return netip.Addr{}
	}
	if len(lan.Addrs) > 0 {
		return lan.Addrs[0]
	}
	return netip.Addr{}
}

// dhcp6Config builds the handler's configuration: the IPv6 addresses of
// `advertise`, else the box's own; the `dns zone` as the search list with
// the box as its DNS server.
func dhcp6Config(cfg *config.Config, lan lan6) (dhcpopt.V6Config, error) {
	c := dhcpopt.V6Config{HWAddr: lan.HWAddr, NTPNames: cfg.DHCP6.Names}
	for _, a := range cfg.Advertise {
		if a.Is6() {
			c.NTPServers = append(c.NTPServers, a)
		}
	}
	box := boxAddr6(cfg, lan)
	if len(c.NTPServers) == 0 {
		if !box.IsValid() {
			return c, fmt.Errorf("no IPv6 address to advertise: no IPv6 address in advertise and none on %s", lan.Name)
		}
		c.NTPServers = []netip.Addr{box}
	}
	if cfg.DNSZone != "" {
		c.Domains = []string{cfg.DNSZone}
		if box.IsValid() {
			c.DNSServers = []netip.Addr{box}
		}
	}
	return c, nil
}

// startDHCP6 starts `dhcp6 inform` when cfg asks for it; the service runs
// in wg until d.close, which logs its counters.
func (d *discovery) startDHCP6(cfg *config.Config, ns netstate.State, wg *sync.WaitGroup, log *slog.Logger) error {
	if !wantsDHCP6(cfg) {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("%s: dhcp6: %w", cfg.DHCP6.Origin, err) }
	v4name := ""
	if lan, err := pickLAN(cfg, lanAddrs(ns)); err == nil {
		v4name = lan.Name
	}
	lan, err := pickLAN6(cfg, lanAddrs6(ns), v4name)
	if err != nil {
		return fail(err)
	}
	vc, err := dhcp6Config(cfg, lan)
	if err != nil {
		return fail(err)
	}
	h, err := dhcpopt.NewHandler6(vc)
	if err != nil {
		return fail(err)
	}
	conn, err := dhcpopt.Listen6(lan.Name)
	if err != nil {
		return fail(err)
	}
	srv := dhcpopt.NewServer6(conn, h, log)
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		if err := srv.Serve(); err != nil {
			log.Warn("dhcp6 server stopped", "err", err)
		}
	})
	log.Info("dhcp6", "mode", "inform", "interface", lan.Name, "ntp", vc.NTPServers, "ntp_names", vc.NTPNames,
		"dns", vc.DNSServers, "domains", vc.Domains, "duid", hex.EncodeToString(h.ServerDUID()))
	d.closers = append(d.closers, func() {
		srv.Close()
		<-done
		s := h.Stats()
		log.Info("dhcp6 stopped", "replies", s.Replies, "ignored", s.Ignored, "malformed", s.Malformed)
	})
	return nil
}
