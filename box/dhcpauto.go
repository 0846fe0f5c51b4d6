package box

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

// This file runs `dhcp auto`: one dhcpopt server in auto mode for the
// whole run, told what to do by dhcpopt.DecideAuto. The box answers
// DHCPINFORM at once. With a static address it searches the segment for
// other DHCP servers, 3 times about 20 s apart, and leases (2-minute
// leases, only to clients that retried) when none answered, none was
// named by a client and none is recorded on this subnet. Once another
// server is seen, by a search or in a client's request, the box stops
// offering, NAKs its clients' renewals so that they move to that server,
// records it beside the lease file, and does not lease on this subnet for
// 30 days after it last saw it. A box whose own address was leased never
// leases.

// Timing of the search for other DHCP servers; variables for tests.
var (
	autoSearchWait  = 6 * time.Second  // how long one search listens for offers: dnsmasq pings 3 s before its first offer
	autoJitter      = 3 * time.Second  // at most this long before the first search, so that boxes booted together do not search at once
	autoSearchEvery = 20 * time.Second // from one search to the next until the box leases
	autoReprobe     = time.Minute      // between searches while leasing
	autoRecheck     = 10 * time.Minute // between searches while another server owns the LAN: keeps its record fresh
	autoProbeRetry  = 20 * time.Second // after a search that could not run
	autoRecordEvery = 24 * time.Hour   // a known server's entry in the record is rewritten at most this often
)

// probeServers finds the other DHCP servers on an interface, asking also
// as some of the box's clients; a variable for tests.
var probeServers = dhcpopt.ProbeServersAs

// autoSearchAs is how many of its clients the box's search asks as while
// it leases.
const autoSearchAs = 3

// autoRange is the range `dhcp auto` leases from: the upper half of the
// subnet's host addresses (198.18.0.128-198.18.0.254 in a /24), which
// leaves the lower half to static addresses. The handler skips the box's
// own address and the router; the ARP check skips any address in use.
func autoRange(p netip.Prefix) (start, end netip.Addr, err error) {
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 29 || p.Bits() < 8 {
		return start, end, fmt.Errorf("dhcp auto: subnet %v: need an IPv4 subnet /8../29 to lease from", p)
	}
	base := p.Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	size := uint32(1) << (32 - p.Bits())
	from, to := n+size/2, n+size-2 // the broadcast address is n+size-1
	conv := func(v uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return conv(from), conv(to), nil
}

// leaseRouter is option 3 of the leases the box gives: the `router` of
// `dhcp server`, else the box's own default gateway when it lies in the
// subnet, else none.
func leaseRouter(cfg *config.Config, lan ifaceAddr) netip.Addr {
	if d := cfg.DHCP; d != nil && d.Mode == config.DHCPServer && d.Router.IsValid() {
		return d.Router
	}
	if gw := cfg.Router(); gw.Is4() && lan.Prefix.Masked().Contains(gw) && gw != lan.Prefix.Addr() {
		return gw
	}
	return netip.Addr{}
}

// leaseDNS is option 6 of the leases the box gives: the `dns` of `dhcp
// server`, else the box's own IPv4 nameservers, else the box itself when
// it serves `dns zone`, else none.
func leaseDNS(cfg *config.Config, lan ifaceAddr) []netip.Addr {
	if d := cfg.DHCP; d != nil && d.Mode == config.DHCPServer && len(d.DNS) > 0 {
		return d.DNS
	}
	var out []netip.Addr
	for _, a := range cfg.Resolvers() {
		if a.Is4() && !a.IsLoopback() && !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	if len(out) == 0 && cfg.DNSZone != "" {
		out = []netip.Addr{lan.Prefix.Addr()}
	}
	return out
}

// autoAddrSource is how the box got its LAN address: `address dhcp`
// with a lease of the moment, without one yet, or a static address.
func autoAddrSource(cfg *config.Config) dhcpopt.AddrSource {
	switch {
	case cfg.Network.DHCP && cfg.Lease != nil:
		return dhcpopt.AddrLeased
	case cfg.Network.DHCP:
		return dhcpopt.AddrNone
	}
	return dhcpopt.AddrStatic
}

// autoDHCP is the running `dhcp auto` service.
type autoDHCP struct {
	cfg    *config.Config
	lan    ifaceAddr
	log    *slog.Logger
	svc    *dhcpService
	h      *dhcpopt.Handler
	dc     dhcpopt.Config
	record string // the record file, "" for none
	addr   dhcpopt.AddrSource
	stop   chan struct{}
	done   chan struct{}

	// Owned by run.
	seen     []dhcpopt.SeenServer
	saved    map[dhcpopt.SeenServer]time.Time // LastSeen of each entry as last written, keyed by server and subnet only
	empty    int                              // consecutive searches that found nothing
	failed   bool                             // the last search could not run
	decision dhcpopt.AutoDecision
}

// startAutoDHCP answers INFORM at once and starts the search; the service
// runs in wg until close.
func (d *discovery) startAutoDHCP(cfg *config.Config, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) error {
	if autoAddrSource(cfg) == dhcpopt.AddrLeased {
		logLeasedSnippet(cfg, lan, log)
	}
	a, err := newAutoDHCP(cfg, lan, log)
	if err != nil {
		// Nothing to lease from: `dhcp inform`.
		log.Error("dhcp auto: cannot lease; answering DHCPINFORM only", "err", err)
		if a.svc, err = openDHCP(dhcpConfig(cfg, lan), "", lan, wg, log); err != nil {
			return err
		}
		a.h = a.svc.h
		close(a.done)
	} else {
		if a.svc, err = openDHCP(a.dc, cfg.DHCPLeaseFile(), lan, wg, log); err != nil {
			return err
		}
		a.start(a.svc.h, wg)
	}
	d.auto = a
	d.closers = append(d.closers, a.close)
	return nil
}

// newAutoDHCP prepares `dhcp auto` on lan: the handler's configuration
// and the record of other servers. It fails when the subnet has no room
// to lease from.
func newAutoDHCP(cfg *config.Config, lan ifaceAddr, log *slog.Logger) (*autoDHCP, error) {
	a := &autoDHCP{cfg: cfg, lan: lan, log: log, record: cfg.DHCPServerRecordFile(), addr: autoAddrSource(cfg),
		stop: make(chan struct{}), done: make(chan struct{}), saved: map[dhcpopt.SeenServer]time.Time{}}
	start, end, err := autoRange(lan.Prefix)
	if err != nil {
		return a, err
	}
	a.dc = dhcpConfig(cfg, lan)
	a.dc.Mode, a.dc.RangeStart, a.dc.RangeEnd = dhcpopt.ModeAuto, start, end
	a.dc.Router, a.dc.DNSServers = leaseRouter(cfg, lan), leaseDNS(cfg, lan)
	if a.record == "" {
		log.Warn("dhcp auto: no driftfile, so the record of other DHCP servers is kept in memory only: " +
			"after a restart the box may lease until it sees the LAN's server again")
	} else if a.seen, err = dhcpopt.LoadServers(a.record); err != nil {
		log.Error("dhcp auto: starting with an empty record of other DHCP servers", "err", err)
	}
	for _, s := range a.seen {
		a.saved[key(s)] = s.LastSeen
	}
	return a, nil
}

// start makes the first decision for h, a handler with a.dc, and runs the
// search in wg.
func (a *autoDHCP) start(h *dhcpopt.Handler, wg *sync.WaitGroup) {
	a.h = h
	a.decide(time.Now())
	wg.Go(a.run)
}

// key is s without what changes from one sighting to the next.
func key(s dhcpopt.SeenServer) dhcpopt.SeenServer {
	return dhcpopt.SeenServer{Server: s.Server, Subnet: s.Subnet.Masked()}
}

// run searches for other servers, takes the handler's sightings, and
// decides after each.
func (a *autoDHCP) run() {
	defer close(a.done)
	timer := time.NewTimer(rand.N(autoJitter))
	defer timer.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-a.h.Sighted():
			a.decide(time.Now())
		case <-timer.C:
			started := time.Now()
			if !a.search() {
				return
			}
			a.decide(time.Now())
			timer.Reset(a.nextSearch(time.Since(started)))
		}
	}
}

// nextSearch is how long to wait for the next search after the decision
// that followed the last one, which took took.
func (a *autoDHCP) nextSearch(took time.Duration) time.Duration {
	switch {
	case a.addr != dhcpopt.AddrStatic:
		return autoRecheck // nothing to decide: this keeps the record fresh
	case a.failed:
		return autoProbeRetry
	case a.decision.Yield:
		return autoRecheck
	case a.decision.Mode == dhcpopt.AutoLease:
		return autoReprobe
	}
	return max(autoSearchEvery-took, 0)
}

// search runs one search; false when the service is stopping.
func (a *autoDHCP) search() bool {
	ctx, cancel := context.WithTimeout(context.Background(), autoSearchWait)
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	others, err := probeServers(ctx, a.lan.Name, a.searchAs(time.Now()))
	select {
	case <-a.stop:
		return false
	default:
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		// A search that cannot run proves nothing either way.
		a.failed = true
		a.log.Warn("dhcp auto: cannot look for other DHCP servers", "interface", a.lan.Name,
			"mode", a.decision.Mode.String(), "err", err)
		return true
	}
	a.failed = false
	if len(others) == 0 {
		a.empty++
		a.log.Debug("dhcp auto: no other DHCP server answered the search", "interface", a.lan.Name, "searches", a.empty)
		return true
	}
	a.empty = 0
	now := time.Now()
	for _, s := range others {
		a.note(dhcpopt.SeenServer{Server: s, Subnet: a.lan.Prefix.Masked(), LastSeen: now, How: dhcpopt.SeenSearch})
	}
	return true
}

// searchAs lists the clients the search asks as: while the box leases,
// up to 3 holders of its active leases, the most recently renewed first.
// A server that answers only the clients it knows, back after a power
// cut, answers them: those are the clients it knows.
func (a *autoDHCP) searchAs(now time.Time) []dhcpopt.SearchAs {
	if a.decision.Mode != dhcpopt.AutoLease {
		return nil
	}
	leases := a.h.Leases()
	slices.SortFunc(leases, func(x, y dhcpopt.Lease) int { return y.Expires.Compare(x.Expires) })
	var out []dhcpopt.SearchAs
	for _, l := range leases {
		if c, ok := l.Identity(); ok && now.Before(l.Expires) && len(out) < autoSearchAs {
			out = append(out, c)
		}
	}
	return out
}

// note adds a sighting to the record, and saves the record when the
// server is new there or its entry was last written autoRecordEvery ago.
func (a *autoDHCP) note(s dhcpopt.SeenServer) {
	seen, changed := dhcpopt.MergeSeen(a.seen, s)
	if !changed {
		return
	}
	a.seen = seen
	last, known := a.saved[key(s)]
	if a.record == "" || known && s.LastSeen.Sub(last) < autoRecordEvery && !s.LastSeen.Before(last) {
		return
	}
	if err := dhcpopt.SaveServers(a.record, a.seen); err != nil {
		a.log.Error("dhcp auto: record of other DHCP servers", "err", err)
		return
	}
	for _, e := range a.seen {
		a.saved[key(e)] = e.LastSeen
	}
}

// decide takes the handler's sightings, decides, applies the decision and
// logs a change.
func (a *autoDHCP) decide(now time.Time) {
	for _, s := range a.h.TakeSightings() {
		a.log.Debug("dhcp auto: a client named another DHCP server", "server", s.Server, "client", s.Client)
		a.note(dhcpopt.SeenServer{Server: s.Server, Subnet: a.lan.Prefix.Masked(), LastSeen: s.At, How: dhcpopt.SeenPassive})
	}
	prev := a.decision
	d := dhcpopt.DecideAuto(dhcpopt.AutoInput{
		Now: now, Address: a.addr, Subnet: a.lan.Prefix.Masked(), Seen: a.seen,
		EmptySearches: a.empty, SearchFailed: a.failed, Leasing: prev.Mode == dhcpopt.AutoLease,
	})
	d = a.h.SetAuto(d) // a sighting the handler just made wins
	a.decision = d
	if d.Mode == prev.Mode && d.Yield == prev.Yield && prev.Reason != "" {
		return
	}
	args := []any{"interface", a.lan.Name, "reason", d.Reason}
	if d.Server.Server.IsValid() {
		args = append(args, "server", d.Server.Server, "seen", d.Server.How.String())
	}
	switch {
	case d.Mode == dhcpopt.AutoLease:
		dc := a.dc
		a.log.Info("dhcp auto: no other DHCP server answered: leasing addresses", append(args,
			"range", dc.RangeStart.String()+"-"+dc.RangeEnd.String(), "lease", dhcpopt.AutoLeaseTime,
			"router", dc.Router, "dns", dc.DNSServers)...)
	case d.Yield && prev.Mode == dhcpopt.AutoLease:
		a.log.Warn("dhcp auto: another DHCP server appeared on the segment: stopped leasing, answering DHCPINFORM only; "+
			"the box's clients are NAKed when they renew", args...)
		a.logSnippet()
	case d.Yield && a.addr == dhcpopt.AddrStatic:
		a.log.Info("dhcp auto: another DHCP server leases on this segment: answering DHCPINFORM only, never leasing", args...)
		a.logSnippet()
	default:
		a.log.Info("dhcp auto: answering DHCPINFORM only", append(args, "mode", d.Mode.String())...)
	}
}

// logSnippet logs the lines the other server's admin should add.
func (a *autoDHCP) logSnippet() {
	servers := advertised(a.cfg, a.lan.Prefix.Addr())
	snip, err := dhcpopt.Snippet("dnsmasq", servers)
	if err != nil {
		return
	}
	a.log.Info("dhcp auto: to hand out option 42 from that server, add (`ntpbox dhcp-snippet --for KIND` prints it for "+
		strings.Join(dhcpopt.SnippetKinds, ", ")+")", "dnsmasq", strings.TrimSpace(strings.ReplaceAll(snip, "\n", "; ")))
}

func (a *autoDHCP) close() {
	close(a.stop)
	<-a.done
	if a.svc != nil {
		a.svc.close()
	}
}

// handler returns the handler, for the stats.
func (a *autoDHCP) handler() *dhcpopt.Handler { return a.h }
