package box

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

// This file runs `dhcp auto` on a box with a static address (init turns
// it into `dhcp inform` when the box's own address came from DHCP). The
// box answers DHCPINFORM at once, which is safe beside any server; it
// leases addresses only after looking for another DHCP server on the
// segment and finding none, and it keeps looking while it leases: when
// one appears it stops leasing. It never becomes a second leasing server
// on a LAN that has one.

// Timing of the search for other DHCP servers.
var (
	autoProbeWait  = 6 * time.Second // how long one search listens for offers: dnsmasq pings 3 s before its first offer
	autoJitter     = 3 * time.Second // at most this long before the first search, so that boxes booted together do not search at once
	autoReprobe    = time.Minute     // between searches while leasing
	autoProbeRetry = time.Minute     // after a search that could not run
)

// probeServers finds the other DHCP servers on an interface; a variable
// for tests.
var probeServers = dhcpopt.ProbeServers

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

// autoDHCP is the running `dhcp auto` service: one dhcpopt server at a
// time, inform or server.
type autoDHCP struct {
	cfg  *config.Config
	lan  ifaceAddr
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	cur  *dhcpService
	last *dhcpopt.Handler // of cur, or of the last one, for the stats
	mode dhcpopt.Mode
}

// startAutoDHCP answers INFORM at once and starts the search; the service
// runs in wg until close.
func (d *discovery) startAutoDHCP(cfg *config.Config, lan ifaceAddr, wg *sync.WaitGroup, log *slog.Logger) error {
	a := &autoDHCP{cfg: cfg, lan: lan, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	if err := a.switchTo(dhcpopt.ModeInform, wg); err != nil {
		return err
	}
	d.auto = a
	d.closers = append(d.closers, a.close)
	wg.Go(func() { a.run(wg) })
	return nil
}

// run searches for other servers and switches between inform and server.
func (a *autoDHCP) run(wg *sync.WaitGroup) {
	defer close(a.done)
	wait := rand.N(autoJitter)
	for {
		select {
		case <-a.stop:
			return
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), autoProbeWait)
		go func() {
			select {
			case <-a.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		others, err := probeServers(ctx, a.lan.Name)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			// A search that cannot run proves nothing either way: the
			// box goes on as it is (inform until a search found no
			// other server) and tries again.
			a.log.Warn("dhcp auto: cannot look for other DHCP servers", "interface", a.lan.Name,
				"mode", a.currentMode().String(), "err", err)
			wait = autoProbeRetry
			continue
		}
		select {
		case <-a.stop:
			return
		default:
		}
		if len(others) > 0 {
			if a.currentMode() == dhcpopt.ModeServer {
				a.log.Error("dhcp auto: another DHCP server appeared on the segment: stopped leasing, answering DHCPINFORM only",
					"interface", a.lan.Name, "servers", others)
			} else {
				a.log.Info("dhcp auto: another DHCP server leases on this segment: answering DHCPINFORM only, never leasing",
					"interface", a.lan.Name, "servers", others)
			}
			a.logSnippet()
			if err := a.switchTo(dhcpopt.ModeInform, wg); err != nil {
				a.log.Error("dhcp auto: switch to inform", "err", err)
			}
			// Once another server was seen the box never leases again
			// (until it restarts): a server that is down for a while
			// still owns its leases.
			return
		}
		if a.currentMode() != dhcpopt.ModeServer {
			a.log.Info("dhcp auto: no other DHCP server answered: leasing addresses", "interface", a.lan.Name, "searched", autoProbeWait)
			if err := a.switchTo(dhcpopt.ModeServer, wg); err != nil {
				a.log.Error("dhcp auto: cannot lease; answering DHCPINFORM only", "err", err)
				if err := a.switchTo(dhcpopt.ModeInform, wg); err != nil {
					a.log.Error("dhcp auto: switch to inform", "err", err)
				}
				return
			}
		}
		wait = autoReprobe
	}
}

func (a *autoDHCP) currentMode() dhcpopt.Mode {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mode
}

// switchTo replaces the running service with one in mode m.
func (a *autoDHCP) switchTo(m dhcpopt.Mode, wg *sync.WaitGroup) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil && a.mode == m {
		return nil
	}
	dc := dhcpConfig(a.cfg, a.lan)
	leaseFile := ""
	if m == dhcpopt.ModeServer {
		start, end, err := autoRange(a.lan.Prefix)
		if err != nil {
			return err
		}
		dc.Mode, dc.RangeStart, dc.RangeEnd = dhcpopt.ModeServer, start, end
		leaseFile = a.cfg.DHCPLeaseFile()
	}
	if a.cur != nil {
		a.cur.close()
		a.cur = nil
	}
	s, err := openDHCP(dc, leaseFile, a.lan, wg, a.log)
	if err != nil {
		return err
	}
	a.cur, a.last, a.mode = s, s.h, m
	return nil
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
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil {
		a.cur.close()
		a.cur = nil
	}
}

// handler returns the running handler, or the last one.
func (a *autoDHCP) handler() *dhcpopt.Handler {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}
