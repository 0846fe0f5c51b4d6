package daemon

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// startResolve looks up line i's name in the background, after a delay
// that grows with the number of failures, and delivers the addresses to
// the loop. Addresses written as literals need no lookup.
func (s *syncer) startResolve(ctx context.Context, wg *sync.WaitGroup, i, failures int) {
	src := s.lines[i]
	if a, err := netip.ParseAddr(src.Host); err == nil {
		s.resolved <- resolution{i, []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(src.Port))}}
		return
	}
	if s.resolving[i] {
		return
	}
	s.resolving[i] = true
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
			case s.resolved <- resolution{line: i, addrs: nil}:
			case <-ctx.Done():
			}
			return
		}
		want := 1
		if src.Pool {
			want = src.MaxSources
		}
		var out []netip.AddrPort
		for _, ip := range ips {
			if len(out) == want {
				break
			}
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(src.Port)))
		}
		select {
		case s.resolved <- resolution{line: i, addrs: out}:
		case <-ctx.Done():
		}
	})
}

// addResolved registers the addresses of a resolved line with the engine,
// skipping those already polled.
func (s *syncer) addResolved(r resolution) {
	delete(s.resolving, r.line)
	src := s.lines[r.line]
	if r.addrs == nil {
		s.failures[r.line]++
		return
	}
	s.failures[r.line] = 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range r.addrs {
		if _, dup := s.byAddr[a]; dup {
			continue
		}
		name := src.Host
		if src.Pool {
			name = a.Addr().String()
		}
		id := s.eng.AddSource(name, a, src)
		s.byAddr[a] = id
		s.lineOf[id] = r.line
		s.log.Info("source added", "name", src.Host, "addr", a)
	}
}

// reresolve replaces sources given by name that stayed unreachable, and
// retries names that did not resolve.
func (s *syncer) reresolve(ctx context.Context, wg *sync.WaitGroup) {
	s.mu.Lock()
	gone := s.eng.Unreachable()
	var lines []int
	for _, id := range gone {
		line, ok := s.lineOf[id]
		if !ok {
			continue
		}
		if _, err := netip.ParseAddr(s.lines[line].Host); err == nil {
			continue // an address stays; only names are looked up again
		}
		s.eng.RemoveSource(id)
		addr := s.addrOf(id)
		delete(s.byAddr, addr)
		delete(s.lineOf, id)
		lines = append(lines, line)
		s.log.Info("source unreachable; resolving its name again", "name", s.lines[line].Host, "addr", addr)
	}
	s.mu.Unlock()
	for _, l := range lines {
		s.startResolve(ctx, wg, l, 0)
	}
	for l, n := range s.failures {
		if n > 0 && !s.resolving[l] {
			s.startResolve(ctx, wg, l, n)
		}
	}
}
