package box

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
	"github.com/ntpbox/ntpbox/dnssrv"
	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/web"
)

// This file runs discovery: DHCP option 42 (`dhcp inform|server`) on UDP 67
// and the _ntp._udp SRV zone (`dns zone`) on UDP 53, and on TCP 53 of the
// LAN address.

// ifaceAddr is one IPv4 address of a local interface.
type ifaceAddr struct {
	Name   string
	Prefix netip.Prefix // the address with its prefix length, not masked
}

// wantsDiscovery reports whether cfg asks for a DHCP, DNS or mDNS service.
func wantsDiscovery(cfg *config.Config) bool {
	return cfg.DNSZone != "" || wantsDHCP(cfg) || cfg.MDNS
}

func wantsDHCP(cfg *config.Config) bool {
	return cfg.DHCP != nil && cfg.DHCP.Mode != config.DHCPOff
}

// pickLAN chooses the box's address on the LAN from the interfaces' IPv4
// addresses: for `dhcp server` the one whose subnet holds the range; else
// the first IPv4 bindaddress, else the first local advertise address, else
// the first non-loopback address.
func pickLAN(cfg *config.Config, addrs []ifaceAddr) (ifaceAddr, error) {
	find := func(ok func(ifaceAddr) bool) (ifaceAddr, bool) {
		for _, a := range addrs {
			if !a.Prefix.Addr().IsLoopback() && ok(a) {
				return a, true
			}
		}
		return ifaceAddr{}, false
	}
	bound := func(a ifaceAddr) bool {
		if len(cfg.BindAddresses) == 0 {
			return true
		}
		for _, b := range cfg.BindAddresses {
			if b == a.Prefix.Addr() {
				return true
			}
		}
		return false
	}
	if d := cfg.DHCP; d != nil && d.Mode == config.DHCPServer {
		in := func(a ifaceAddr) bool {
			p := a.Prefix.Masked()
			return p.Contains(d.RangeStart) && p.Contains(d.RangeEnd)
		}
		if a, ok := find(func(a ifaceAddr) bool { return in(a) && bound(a) }); ok {
			return a, nil
		}
		if a, ok := find(in); ok {
			return a, nil
		}
		return ifaceAddr{}, fmt.Errorf("dhcp server: no interface has an IPv4 subnet holding the range %s-%s", d.RangeStart, d.RangeEnd)
	}
	for _, b := range cfg.BindAddresses {
		if a, ok := find(func(a ifaceAddr) bool { return a.Prefix.Addr() == b }); ok {
			return a, nil
		}
	}
	for _, adv := range cfg.Advertise {
		if a, ok := find(func(a ifaceAddr) bool { return a.Prefix.Addr() == adv }); ok {
			return a, nil
		}
	}
	if a, ok := find(func(ifaceAddr) bool { return true }); ok {
		return a, nil
	}
	return ifaceAddr{}, errors.New("no non-loopback IPv4 address: cannot tell the box's address")
}

// lanAddrs lists the IPv4 addresses of the links that are up.
func lanAddrs(ns netstate.State) []ifaceAddr {
	var out []ifaceAddr
	for _, l := range ns.Links {
		if !l.Up || l.Loopback {
			continue
		}
		for _, p := range l.Addrs {
			if p.Addr().Is4() {
				out = append(out, ifaceAddr{Name: l.Name, Prefix: p})
			}
		}
	}
	return out
}

// advertised is the advertise list, or the box's address.
func advertised(cfg *config.Config, box netip.Addr) []netip.Addr {
	if len(cfg.Advertise) > 0 {
		return cfg.Advertise
	}
	return []netip.Addr{box}
}

// dhcpConfig builds dhcpopt's configuration from the `dhcp` line.
func dhcpConfig(cfg *config.Config, lan ifaceAddr) dhcpopt.Config {
	d := cfg.DHCP
	c := dhcpopt.Config{
		Mode:     dhcpopt.ModeInform,
		ServerID: lan.Prefix.Addr(),
		Subnet:   lan.Prefix.Masked(),
		Domain:   cfg.DNSZone,
	}
	for _, a := range advertised(cfg, lan.Prefix.Addr()) {
		if a.Is4() {
			c.NTPServers = append(c.NTPServers, a)
		}
	}
	if d.Mode == config.DHCPServer {
		c.Mode = dhcpopt.ModeServer
		c.RangeStart, c.RangeEnd, c.Lease = d.RangeStart, d.RangeEnd, d.Lease
		c.Router, c.DNSServers = leaseRouter(cfg, lan), leaseDNS(cfg, lan) // dhcpauto.go
	}
	return c
}

// discovery is the running DHCP and DNS services.
type discovery struct {
	closers []func()
	dhcp    *dhcpopt.Handler
	auto    *autoDHCP // `dhcp auto`; dhcp is nil then
	// For the page and /metrics (nil when not running).
	dhcpSrv *dhcpopt.Server
	dns     *dnssrv.Responder
	tcp     []*dnssrv.TCPServer
	mdns    *dnssrv.MDNS
	mdnsRRs []string
}

// discoveryStats are the counters of the running discovery services.
type discoveryStats struct {
	leases []dhcpopt.Lease
	dhcp   dhcpopt.Stats
	server dhcpopt.ServerStats
	dns    dnssrv.ResponderStats
	tcp    dnssrv.TCPStats
	mdns   dnssrv.MDNSStats
}

// stats reads the running services' counters.
func (r *discoveryRunner) stats() discoveryStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s discoveryStats
	d := r.running
	if d == nil {
		return s
	}
	h := d.dhcp
	if d.auto != nil {
		h = d.auto.handler()
	}
	if h != nil {
		s.leases, s.dhcp = h.Leases(), h.Stats()
	}
	if d.dhcpSrv != nil {
		s.server = d.dhcpSrv.Stats()
	}
	if d.dns != nil {
		s.dns = d.dns.Stats()
	}
	for _, t := range d.tcp {
		st := t.Stats()
		s.tcp.Accepted += st.Accepted
		s.tcp.Refused += st.Refused
		s.tcp.TimedOut += st.TimedOut
		s.tcp.Oversized += st.Oversized
		s.tcp.Malformed += st.Malformed
	}
	if d.mdns != nil {
		s.mdns = d.mdns.Stats()
	}
	return s
}

// pageData are the leases and records for the status page.
func (r *discoveryRunner) pageData() ([]web.Lease, []web.Record) {
	st := r.stats()
	now := time.Now()
	var leases []web.Lease
	for _, l := range st.leases {
		state := "bound"
		switch {
		case l.Offered:
			state = "offered"
		case l.Expires.Before(now):
			state = "expired"
		}
		mac := strings.TrimPrefix(l.Client, "hw:")
		leases = append(leases, web.Lease{Addr: l.Addr.String(), MAC: mac, Hostname: l.Hostname, Expires: l.Expires, State: state})
	}
	var recs []web.Record
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.running; d != nil {
		if d.dns != nil {
			for _, t := range d.dns.Records() {
				recs = append(recs, web.Record{Source: "dns zone", Text: t})
			}
		}
		for _, t := range d.mdnsRRs {
			recs = append(recs, web.Record{Source: "mdns", Text: t})
		}
	}
	return leases, recs
}

// close stops the services; the serving goroutines then return.
func (d *discovery) close() {
	for _, c := range d.closers {
		c()
	}
}

// startDiscovery opens the DHCP and DNS sockets cfg asks for and serves
// them in wg. A service that cannot start is an error: nothing is left
// open then.
//
// withDHCP and withDNS say which of them this process runs (the
// appliance runs each in its own process).
func startDiscovery(cfg *config.Config, ns netstate.State, wg *sync.WaitGroup, log *slog.Logger, withDHCP, withDNS bool) (*discovery, error) {
	d := &discovery{}
	// `dhcp6` first: it does not need an IPv4 LAN.
	if withDHCP {
		if err := d.startDHCP6(cfg, ns, wg, log.With("component", "dhcp6")); err != nil {
			return nil, err
		}
	}
	if !(withDHCP && wantsDHCP(cfg) || withDNS && (cfg.DNSZone != "" || cfg.MDNS)) {
		return d, nil
	}
	lan, err := pickLAN(cfg, lanAddrs(ns))
	if err != nil {
		if !(withDHCP && wantsDHCP(cfg) || withDNS && cfg.DNSZone != "") {
			// Only mDNS, which waits quietly for a LAN address.
			log.Debug("mdns waits for a LAN address", "err", err)
			return d, nil
		}
		d.close()
		return nil, err
	}
	if withDHCP && wantsDHCP(cfg) {
		if err := d.startDHCP(cfg, lan, wg, log.With("component", "dhcp")); err != nil {
			d.close()
			return nil, err
		}
	}
	if withDNS && cfg.DNSZone != "" {
		if err := d.startDNS(cfg, lan, wg, log.With("component", "dns")); err != nil {
			d.close()
			return nil, err
		}
	}
	if withDNS && cfg.MDNS {
		// mDNS is a convenience: the box serves time without it.
		if err := d.startMDNS(cfg, lan, wg, log.With("component", "mdns")); err != nil {
			log.Warn("mdns not available", "err", err)
		}
	}
	return d, nil
}

// startMDNS answers mDNS on the LAN interface as the machine's host name
// (init sets it: ntpbox-XXXXXX or `hostname`) .local, and announces NTP
// and, with `http`, the status page (_http._tcp, path=/).
func (d *discovery) startMDNS(cfg *config.Config, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	var services []dnssrv.MDNSService
	if cfg.Port != 0 {
		services = append(services, dnssrv.MDNSService{Type: "_ntp._udp", Port: uint16(cfg.Port)})
	}
	if httpOnLAN(cfg.HTTP, lan.Prefix.Addr()) {
		services = append(services, dnssrv.MDNSService{Type: "_http._tcp", Port: uint16(cfg.HTTP.Port), TXT: []string{"path=/"}})
	}
	m, err := dnssrv.NewMDNS(dnssrv.MDNSConfig{Host: host, Addr: lan.Prefix, Services: services, Logger: log})
	if err != nil {
		return err
	}
	p, err := dnssrv.ListenMDNS(lan.Name)
	if err != nil {
		return err
	}
	d.mdns = m
	name := strings.ToLower(host) + ".local."
	d.mdnsRRs = append(d.mdnsRRs, name+" 120 IN A "+lan.Prefix.Addr().String())
	for _, s := range services {
		d.mdnsRRs = append(d.mdnsRRs, s.Type+".local. 4500 IN PTR "+strings.ToLower(host)+"."+s.Type+".local.",
			strings.ToLower(host)+"."+s.Type+".local. 120 IN SRV 0 0 "+strconv.Itoa(int(s.Port))+" "+name)
	}
	done := make(chan struct{})
	wg.Go(func() { defer close(done); m.Serve(p) })
	d.closers = append(d.closers, func() {
		if err := m.Shutdown(p); err != nil {
			log.Debug("mdns goodbye", "err", err)
		}
		<-done
		st := m.Stats()
		log.Info("mdns stopped", "queries", st.Queries, "answered", st.Answered, "legacy", st.Legacy, "ignored", st.Ignored, "limited", st.Limited)
	})
	log.Info("mdns", "name", strings.ToLower(host)+".local", "address", lan.Prefix.Addr(), "interface", lan.Name, "services", len(services))
	return nil
}

// httpOnLAN reports whether `http` serves the page at the LAN address:
// `http lan`, or a list with that address or 0.0.0.0 or ::.
func httpOnLAN(h *config.HTTP, lan netip.Addr) bool {
	if h == nil {
		return false
	}
	for _, a := range h.Addrs {
		if a == lan || a.IsUnspecified() {
			return true
		}
	}
	return h.LAN
}

func (d *discovery) startDHCP(cfg *config.Config, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) error {
	if cfg.DHCP.Mode == config.DHCPAuto {
		return d.startAutoDHCP(cfg, lan, wg, log)
	}
	s, err := openDHCP(dhcpConfig(cfg, lan), cfg.DHCPLeaseFile(), lan, wg, log)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.DHCP.Origin, err)
	}
	d.dhcp, d.dhcpSrv = s.h, s.srv
	d.closers = append(d.closers, s.close)
	return nil
}

// logLeasedSnippet says what `dhcp auto` does on a box whose address
// came from a DHCP server, and the lines that server's admin should add
// to hand out option 42.
func logLeasedSnippet(cfg *config.Config, lan ifaceAddr, log *slog.Logger) {
	servers := advertised(cfg, lan.Prefix.Addr())
	log.Info("dhcp auto: this box's address came from a DHCP server, so ntpbox only answers DHCPINFORM; "+
		"to hand out option 42 to every client, add the lines below to that server (`ntpbox dhcp-snippet --for KIND` prints them for "+
		strings.Join(dhcpopt.SnippetKinds, ", ")+")", "server", cfg.Lease.Server, "ntp", servers)
	for _, kind := range []string{"dnsmasq", "isc-dhcpd"} {
		if snip, err := dhcpopt.Snippet(kind, servers); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(snip), "\n") {
				log.Info("dhcp snippet", "for", kind, "line", line)
			}
		}
	}
}

// arpTimeout is how long the server waits for an ARP reply before it
// offers an address nobody claimed.
const arpTimeout = 500 * time.Millisecond

// dhcpService is one running dhcpopt server.
type dhcpService struct {
	h      *dhcpopt.Handler
	srv    *dhcpopt.Server
	prober *dhcpopt.ARPProber
	done   chan struct{}
	log    *slog.Logger
}

// close stops the server and waits until it stopped serving.
func (s *dhcpService) close() {
	s.srv.Close()
	<-s.done
	st := s.srv.Stats()
	s.log.Info("dhcp server stopped", "lease_writes", st.Writes, "write_errors", st.WriteErr,
		"dropped_busy", st.Dropped, "off_link", st.OffLink)
	if s.prober != nil {
		s.prober.Close()
	}
}

// openDHCP starts a DHCP server with dc on the LAN interface: in server
// mode with the leases saved in leaseFile (when set) and an ARP check of
// each address before it is offered.
func openDHCP(dc dhcpopt.Config, leaseFile string, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) (*dhcpService, error) {
	var leases []dhcpopt.Lease
	if leaseFile != "" {
		var err error
		leases, err = dhcpopt.LoadLeases(leaseFile)
		if err != nil {
			log.Warn("starting without the saved leases", "err", err)
		}
	}
	s := &dhcpService{done: make(chan struct{}), log: log}
	if ifc, err := net.InterfaceByName(lan.Name); err == nil {
		// Ignore this box's own search for other servers (dhcp auto).
		dc.ProbeHW = dhcpopt.ProbeHWAddrFor(ifc.HardwareAddr)
	}
	var prober dhcpopt.Prober
	if dc.Mode != dhcpopt.ModeInform {
		p, err := dhcpopt.NewARPProber(lan.Name, lan.Prefix.Addr(), arpTimeout)
		if err != nil {
			log.Warn("no ARP check before offering an address", "interface", lan.Name, "err", err)
		} else {
			s.prober, prober = p, p
		}
	}
	fail := func(err error) (*dhcpService, error) {
		if s.prober != nil {
			s.prober.Close()
		}
		return nil, err
	}
	h, err := dhcpopt.NewHandler(dc, prober, leases)
	if err != nil {
		return fail(err)
	}
	conn, err := dhcpopt.Listen(lan.Name)
	if err != nil {
		return fail(err)
	}
	srv, err := dhcpopt.NewServer(conn, h, dhcpopt.ServerConfig{LeaseFile: leaseFile, Logger: log})
	if err != nil {
		conn.Close()
		return fail(err)
	}
	s.h, s.srv = h, srv
	log.Info("dhcp", "mode", dc.Mode.String(), "interface", lan.Name, "address", lan.Prefix.String(),
		"ntp", dc.NTPServers, "range", rangeString(dc), "leasefile", leaseFile, "leases", len(leases), "arp_check", s.prober != nil)
	wg.Go(func() { defer close(s.done); srv.Serve() })
	return s, nil
}

func rangeString(c dhcpopt.Config) string {
	if c.Mode == dhcpopt.ModeInform {
		return ""
	}
	return c.RangeStart.String() + "-" + c.RangeEnd.String()
}

// startDNS serves the zone on port 53: over UDP on every address (or
// each bindaddress) with dns.Server, and over TCP with dnssrv's bounded
// server on the LAN address only (or each bindaddress). A TCP connection
// is state the box holds for a client, so only the LAN that the box
// serves gets to open one.
func (d *discovery) startDNS(cfg *config.Config, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) error {
	r, err := dnssrv.New(dnssrv.Config{
		Zone:    cfg.DNSZone,
		Servers: advertised(cfg, lan.Prefix.Addr()),
		NS:      []netip.Addr{lan.Prefix.Addr()},
	})
	if err != nil {
		return err
	}
	udpHosts, tcpHosts := dnsHosts(cfg, lan)
	var udpAddrs, tcpAddrs []string
	for _, h := range udpHosts {
		addr, err := d.serveDNSUDP(net.JoinHostPort(h, "53"), r, wg, log)
		if err != nil {
			return err
		}
		udpAddrs = append(udpAddrs, addr)
	}
	for _, h := range tcpHosts {
		addr := net.JoinHostPort(h, "53")
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen tcp %s: %w", addr, err)
		}
		s := dnssrv.NewTCPServer(ln, r, dnssrv.TCPConfig{Logger: log})
		d.tcp = append(d.tcp, s)
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			s.Serve()
		})
		d.closers = append(d.closers, func() {
			s.Close()
			<-done
			st := s.Stats()
			log.Info("dns tcp stopped", "addr", addr, "accepted", st.Accepted, "refused", st.Refused, "timed_out", st.TimedOut,
				"oversized", st.Oversized, "malformed", st.Malformed, "max_queries", st.MaxQueries, "queries", st.Queries, "accept_errors", st.AcceptErrors)
		})
		tcpAddrs = append(tcpAddrs, ln.Addr().String())
	}
	d.dns = r
	log.Info("dns", "zone", r.Zone(), "udp", udpAddrs, "tcp", tcpAddrs, "servers", advertised(cfg, lan.Prefix.Addr()))
	return nil
}

// dnsHosts are the addresses DNS listens on, "" for every address: UDP
// on every address and TCP on the LAN address, or both on each
// bindaddress.
func dnsHosts(cfg *config.Config, lan ifaceAddr) (udp, tcp []string) {
	if len(cfg.BindAddresses) == 0 {
		return []string{""}, []string{lan.Prefix.Addr().String()}
	}
	for _, a := range cfg.BindAddresses {
		udp = append(udp, a.String())
	}
	return udp, udp
}

// serveDNSUDP runs dns.Server for r on UDP addr and returns the address
// it listens on. Read errors are paced (dnssrv.PaceReadErrors); if the
// server still stops (miekg/dns gives up on a read error it does not
// call temporary), it is started again on the same address, after a
// wait that doubles from 5 ms to 1 s, until the discovery stops.
func (d *discovery) serveDNSUDP(addr string, r dns.Handler, wg *sync.WaitGroup, log *slog.Logger) (string, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", fmt.Errorf("listen udp %s: %w", addr, err)
	}
	local := pc.LocalAddr().String()
	newServer := func(pc net.PacketConn) *dns.Server {
		return &dns.Server{PacketConn: pc, Handler: r, DecorateReader: dnssrv.PaceReadErrors(log)}
	}
	var mu sync.Mutex
	s := newServer(pc)
	cur, stop := s, make(chan struct{})
	// Shutdown only works on a started server: wait for it.
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		var pause backoff.Backoff
		srv := s
		for {
			ran := time.Now()
			err := srv.ActivateAndServe()
			select {
			case <-stop:
				return
			case <-started:
			default:
				log.Warn("dns udp: could not start", "addr", local, "err", err)
				return
			}
			if time.Since(ran) > time.Minute {
				pause.Reset()
			}
			log.Warn("dns udp stopped; serving it again", "addr", local, "err", err)
			for {
				if !pause.Wait(stop) {
					return
				}
				pc, err := net.ListenPacket("udp", local)
				if err != nil {
					log.Warn("dns udp: listen again", "addr", local, "err", err)
					continue
				}
				mu.Lock()
				srv = newServer(pc)
				cur = srv
				mu.Unlock()
				break
			}
		}
	})
	select {
	case <-started:
		d.closers = append(d.closers, func() {
			mu.Lock()
			close(stop)
			c := cur
			mu.Unlock()
			// Shutdown fails on a server that has not started yet
			// (the loop's next one): closing its socket ends it too.
			c.Shutdown()
			c.PacketConn.Close()
		})
	case <-done:
		return "", fmt.Errorf("serve dns udp %s: stopped at start", addr)
	}
	return local, nil
}

// stats logs what the DHCP handler did.
func (d *discovery) logStats(log *slog.Logger) {
	h := d.dhcp
	if d.auto != nil {
		h = d.auto.handler()
	}
	if h == nil {
		return
	}
	s := h.Stats()
	log.Info("dhcp stopped", "offers", s.Offers, "acks", s.Acks, "naks", s.Naks, "informs", s.Informs,
		"releases", s.Releases, "declines", s.Declines, "conflicts", s.Conflicts, "ignored", s.Ignored, "malformed", s.Malformed)
}
