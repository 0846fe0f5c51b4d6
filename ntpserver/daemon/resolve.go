package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// lineKey identifies a configured source across config updates: the
// line without its origin, so that a lease renewed with the same option
// 42 keeps its sources and their statistics.
func lineKey(src config.Source) string {
	src.Origin = config.Origin{}
	return fmt.Sprintf("%+v", src)
}

// setLines replaces the configured sources: sources of lines that are
// gone are removed from the engine, new lines are returned to be looked
// up. Only the loop goroutine (or newSyncer) calls it.
func (s *syncer) setLines(srcs []config.Source) (added []string) {
	keep := map[string]bool{}
	var order []string
	for _, src := range srcs {
		key := lineKey(src)
		if keep[key] {
			continue // the same line twice: one is enough
		}
		keep[key] = true
		order = append(order, key)
		if _, ok := s.lines[key]; !ok {
			s.lines[key] = &sourceLine{src: src}
			added = append(added, key)
		}
	}
	for _, key := range s.order {
		if !keep[key] {
			s.log.Info("source no longer configured", "name", s.lines[key].src.Host, "origin", s.lines[key].src.Origin.String())
			s.dropLine(key)
			delete(s.lines, key)
		}
	}
	s.order = order
	s.mu.Lock()
	s.eng.SetHasSources(len(order) > 0)
	s.mu.Unlock()
	return added
}

// dropLine removes the engine's sources of one line.
func (s *syncer) dropLine(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, k := range s.lineOf {
		if k == key {
			s.removeSource(id)
		}
	}
}

// removeSource forgets one source; s.mu is held.
func (s *syncer) removeSource(id upstream.SourceID) {
	addr := s.addrOf(id)
	s.eng.RemoveSource(id)
	delete(s.byAddr, addr)
	delete(s.lineOf, id)
}

// apply takes a change from outside the loop.
func (s *syncer) apply(ctx context.Context, wg *sync.WaitGroup, u syncUpdate) {
	if u.local != nil {
		s.local = *u.local
		// A source now at one of our addresses is dropped; a line whose
		// addresses were ours is looked up again, they may not be now.
		s.mu.Lock()
		var again []string
		for a, id := range s.byAddr {
			if s.isSelf(a) {
				key := s.lineOf[id]
				s.log.Warn("source is this box's own address: not polling it", "addr", a)
				s.removeSource(id)
				s.lines[key].ownAddr = true
			}
		}
		s.mu.Unlock()
		for _, key := range s.order {
			if l := s.lines[key]; l.ownAddr && !l.resolving {
				again = append(again, key)
			}
		}
		for _, key := range again {
			s.startResolve(ctx, wg, key, 0)
		}
	}
	if u.resolvers {
		// New DNS servers (a lease came): the names that failed with the
		// old ones are looked up now, not after their back-off, which
		// grows to minutes while a box waits for its lease.
		for _, key := range s.order {
			if l := s.lines[key]; l.failures > 0 || l.resolving {
				l.gen++ // a lookup under way or waiting out its back-off is dropped
				l.resolving, l.failures = false, 0
				s.startResolve(ctx, wg, key, 0)
			}
		}
	}
	if u.sources != nil {
		for _, key := range s.setLines(u.sources) {
			s.startResolve(ctx, wg, key, 0)
		}
		s.publish()
	}
}

// startResolve looks up a line's name in the background, after a delay
// that grows with the number of failures, and delivers the addresses to
// the loop. Addresses written as literals need no lookup.
func (s *syncer) startResolve(ctx context.Context, wg *sync.WaitGroup, key string, failures int) {
	l := s.lines[key]
	if l == nil || l.resolving {
		return
	}
	src := l.src
	l.gen++
	gen := l.gen
	if a, err := netip.ParseAddr(src.Host); err == nil {
		l.resolving = true
		s.addResolved(resolution{key, gen, []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(src.Port))}})
		return
	}
	l.resolving = true
	delay := time.Duration(0)
	if failures > 0 {
		delay = s.retry[min(failures-1, len(s.retry)-1)]
	}
	wg.Go(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ips, err := s.res.LookupNetIP(lctx, "ip", src.Host)
		if err != nil || len(ips) == 0 {
			if ctx.Err() == nil {
				s.log.Warn("cannot resolve source; will retry", "name", src.Host, "err", err, "failures", failures+1)
			}
			select {
			case s.resolved <- resolution{key: key, gen: gen}:
			case <-ctx.Done():
			}
			return
		}
		var out []netip.AddrPort
		for _, ip := range ips {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(src.Port)))
		}
		select {
		case s.resolved <- resolution{key, gen, out}:
		case <-ctx.Done():
		}
	})
}

// addResolved registers the addresses of a resolved line with the engine:
// a server's first address, a pool's first maxsources, skipping the
// addresses already polled and the box's own.
func (s *syncer) addResolved(r resolution) {
	l := s.lines[r.key]
	if l == nil || r.gen != l.gen {
		return // the line is gone, or was looked up again since
	}
	l.resolving = false
	if r.addrs == nil {
		l.failures++
		return
	}
	l.failures = 0
	want := 1
	if l.src.Pool {
		want = l.src.MaxSources
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	have := 0
	for _, k := range s.lineOf {
		if k == r.key {
			have++
		}
	}
	own := 0
	for _, a := range r.addrs {
		if have >= want {
			break
		}
		if _, dup := s.byAddr[a]; dup {
			continue
		}
		if l.refused[a.Addr()] {
			continue // it refused this line's service (DENY/RSTR)
		}
		if s.isSelf(a) {
			own++
			if !l.ownAddr {
				s.log.Warn("source is this box's own address: not polling it", "name", l.src.Host, "addr", a, "origin", l.src.Origin.String())
			}
			continue
		}
		name := l.src.Host
		if l.src.Pool {
			name = a.Addr().String()
		}
		id := s.eng.AddSource(name, a, l.src)
		s.byAddr[a] = id
		s.lineOf[id] = r.key
		have++
	}
	l.ownAddr = own > 0
}

// replaceWaitMax is the longest wait between two replacements of
// unreachable sources: chrony's RESOLVE_INTERVAL_UNIT << MAX_REPLACEMENT_INTERVAL
// (7 s * 2^9, about an hour). chrony draws the wait uniformly below it,
// so a dead server's name is looked up again about every half hour, not
// every few seconds forever.
const replaceWaitMax = 7 * time.Second << 9

// reresolve replaces pool members that refused service at once, and one
// source given by name that stayed unreachable per random wait; it
// retries names that did not resolve.
func (s *syncer) reresolve(ctx context.Context, wg *sync.WaitGroup) {
	s.mu.Lock()
	var keys []string
	for _, id := range s.eng.Refused() {
		key, ok := s.lineOf[id]
		if !ok {
			continue
		}
		l := s.lines[key]
		addr := s.addrOf(id)
		if l.refused == nil {
			l.refused = map[netip.Addr]bool{}
		}
		l.refused[addr.Addr()] = true
		s.removeSource(id)
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
		s.log.Info("pool member refused service; taking another address of the pool", "name", l.src.Host, "addr", addr)
	}
	if now := s.clk.Now(); !now.Before(s.nextReplace) || s.nextReplace.Sub(now) > replaceWaitMax {
		for _, id := range s.eng.Unreachable() {
			key, ok := s.lineOf[id]
			if !ok {
				continue
			}
			if _, err := netip.ParseAddr(s.lines[key].src.Host); err == nil {
				continue // an address stays; only names are looked up again
			}
			addr := s.addrOf(id)
			s.removeSource(id)
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
			wait := s.replaceWait()
			s.nextReplace = now.Add(wait)
			s.log.Info("source unreachable; resolving its name again", "name", s.lines[key].src.Host, "addr", addr,
				"next_replacement_after", wait.Round(time.Second))
			break // one per wait, as chrony
		}
	}
	s.mu.Unlock()
	for _, key := range keys {
		s.startResolve(ctx, wg, key, 0)
	}
	for _, key := range s.order {
		if l := s.lines[key]; l.failures > 0 && !l.resolving {
			s.startResolve(ctx, wg, key, l.failures)
		}
	}
}

// update hands the loop new sources and links; it never blocks the
// caller for long (the loop takes updates between polls).
func (s *syncer) update(ctx context.Context, u syncUpdate) {
	select {
	case s.updates <- u:
	case <-ctx.Done():
	}
}

// isSelf reports whether a is this box: the port it serves, on an
// address it serves (one of its bindaddress lines, or without them any
// of its addresses).
func (s *syncer) isSelf(a netip.AddrPort) bool {
	if s.servePort == 0 || int(a.Port()) != s.servePort {
		return false
	}
	if len(s.bind) > 0 {
		return slices.Contains(s.bind, a.Addr())
	}
	return s.local.IsLocal(a.Addr())
}
