package daemon

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// syncer is the I/O around the upstream engine: it resolves names, sends
// the engine's requests at the times it asks for, hands it the replies
// with their kernel receive timestamps, and feeds the server the state to
// serve. The engine itself is pure and not safe for concurrent use: every
// call to it holds mu.
type syncer struct {
	mu  sync.Mutex
	eng *upstream.Engine

	clk       clock.Clock
	srv       *ntpserver.Server
	log       *slog.Logger
	res       Resolver
	driftPath string

	// The configured sources ("lines"), by key: they come and go as DHCP
	// leases name other NTP servers (option 42), as chrony's sourcedir.
	// Only the loop goroutine touches these, the engine's ids included.
	lines  map[string]*sourceLine
	order  []string // keys in config order
	byAddr map[netip.AddrPort]upstream.SourceID
	lineOf map[upstream.SourceID]string
	// unresolved is what countUnresolved last counted, for other
	// goroutines (chronyc activity).
	unresolved atomic.Int32
	// local is the box's links: a source at one of its own addresses and
	// its serving port is never polled (a box named in option 42 would
	// otherwise poll itself).
	local     netstate.State
	servePort int             // the NTP port served, 0 for none
	bind      []netip.Addr    // the addresses served (bindaddress), none for all
	retry     []time.Duration // delays after successive resolution failures
	// nextReplace is when an unreachable source may next be replaced
	// (chrony's NSR_HandleBadSource: one replacement, then a random
	// wait of up to replaceWaitMax); replaceWait draws that wait.
	nextReplace time.Time
	replaceWait func() time.Duration

	conn4, conn6 *net.UDPConn
	// tx4 and tx6 read the kernel's transmit timestamps of the polls on
	// conn4 and conn6; nil where the kernel gives none.
	tx4, tx6  *ntpserver.TxStamper
	closed    chan struct{} // closed by close
	closeOnce sync.Once
	rx        chan reply
	resolved  chan resolution
	updates   chan syncUpdate
}

// sourceLine is one configured server or pool line.
type sourceLine struct {
	src       config.Source
	gen       int // of the last lookup started; older results are dropped
	resolving bool
	failures  int
	ownAddr   bool // its addresses were the box's own: looked up again when the links change
	// refused are the addresses of this (pool) line that sent a DENY or
	// RSTR Kiss-o'-Death: never taken again for it.
	refused map[netip.Addr]bool
}

// syncUpdate is a change from outside the loop: new sources, new links.
type syncUpdate struct {
	sources   []config.Source // nil: unchanged
	local     *netstate.State // nil: unchanged
	resolvers bool            // the DNS servers changed: look up again the names that did not resolve
}

type reply struct {
	from  netip.AddrPort
	local netip.Addr // our address the reply was sent to
	pkt   []byte
	t4    time.Time
}

type resolution struct {
	key   string
	gen   int
	addrs []netip.AddrPort
}

// resolveRetry is how long to wait before resolving a name again after a
// failure: names are resolved when needed and retried, never fatal.
var resolveRetry = []time.Duration{2 * time.Second, 8 * time.Second, 32 * time.Second, 128 * time.Second, 512 * time.Second}

func newSyncer(eng *upstream.Engine, clk clock.Clock, srv *ntpserver.Server, lines []config.Source, local netstate.State, servePort int, bind []netip.Addr, res Resolver, driftPath string, log *slog.Logger) (*syncer, error) {
	s := &syncer{
		eng: eng, clk: clk, srv: srv, log: log, res: res, driftPath: driftPath, servePort: servePort, bind: bind,
		lines:  map[string]*sourceLine{},
		byAddr: map[netip.AddrPort]upstream.SourceID{},
		lineOf: map[upstream.SourceID]string{},
		local:  local,
		retry:  resolveRetry,
		replaceWait: func() time.Duration {
			return time.Duration(rand.Float64() * float64(replaceWaitMax))
		},
		rx:       make(chan reply, 64),
		resolved: make(chan resolution, 16),
		updates:  make(chan syncUpdate, 4),
		closed:   make(chan struct{}),
	}
	s.setLines(lines)
	var err4, err6 error
	s.conn4, err4 = net.ListenUDP("udp4", nil)
	s.conn6, err6 = net.ListenUDP("udp6", nil)
	if s.conn4 == nil && s.conn6 == nil {
		return nil, errors.Join(err4, err6)
	}
	for _, c := range []*net.UDPConn{s.conn4, s.conn6} {
		if c != nil {
			if err := ntpserver.EnableRxInfo(c); err != nil {
				log.Warn("no kernel receive timestamps or local addresses for upstream replies", "err", err)
			}
		}
	}
	var errTx error
	if s.conn4 != nil {
		s.tx4, errTx = ntpserver.EnableTxTimestamps(s.conn4)
	}
	if s.conn6 != nil {
		var err error
		s.tx6, err = ntpserver.EnableTxTimestamps(s.conn6)
		errTx = errors.Join(errTx, err)
	}
	if errTx != nil {
		log.Warn("no kernel transmit timestamps for polls: using the clock read just before each send", "err", errTx)
	}
	s.countUnresolved()
	return s, nil
}

// close closes the sockets and lets the receivers go, once.
func (s *syncer) close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		for _, c := range []*net.UDPConn{s.conn4, s.conn6} {
			if c != nil {
				c.Close()
			}
		}
	})
}

// syncTick is how often the sync loop re-plans the slew and republishes
// what the server serves (upstream.Config.Tick).
const syncTick = time.Second

// run is the sync loop; it returns when ctx ends or the engine gives up.
func (s *syncer) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer s.close()
	for _, c := range []*net.UDPConn{s.conn4, s.conn6} {
		if c != nil {
			wg.Go(func() { s.receive(c) })
		}
	}
	for _, key := range s.order {
		s.startResolve(ctx, &wg, key, 0)
	}
	s.countUnresolved()
	s.publish()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	tick := time.NewTicker(syncTick)
	defer tick.Stop()
	lastDrift := s.clk.Now()
	buf := make([]byte, wire.HeaderLen)
	for {
		s.mu.Lock()
		_, at, ok := s.eng.NextPoll()
		s.mu.Unlock()
		wait := time.Second
		if ok {
			wait = min(max(at.Sub(s.clk.Now()), 0), time.Second)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.eng.StopSlew()
			s.mu.Unlock()
			s.saveDrift()
			return nil
		case <-timer.C:
			s.pollDue(buf)
			// The served time is cooked with the slew the servo plans;
			// hand the server the plan as it stands after the polls.
			s.publish()
		case r := <-s.rx:
			s.mu.Lock()
			if id, known := s.byAddr[r.from]; known {
				s.eng.Receive(id, r.pkt, r.t4, r.local)
			}
			s.mu.Unlock()
			s.publish()
		case r := <-s.resolved:
			s.addResolved(r)
			s.countUnresolved()
		case u := <-s.updates:
			s.apply(ctx, &wg, u)
			s.countUnresolved()
		case <-tick.C:
			s.mu.Lock()
			s.eng.Tick(s.clk.Now())
			s.mu.Unlock()
			s.publish()
			s.reresolve(ctx, &wg)
			s.countUnresolved()
			if err := s.engineErr(); err != nil {
				s.saveDrift()
				return err
			}
			if now := s.clk.Now(); now.Sub(lastDrift) > time.Hour || now.Before(lastDrift) {
				lastDrift = now
				s.saveDrift()
			}
		}
	}
}

// pollDue sends every request that is due.
func (s *syncer) pollDue(buf []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		id, at, ok := s.eng.NextPoll()
		now := s.clk.Now()
		if !ok || at.After(now) {
			return
		}
		n := s.eng.Transmit(id, now, buf)
		addr := s.addrOf(id)
		conn, tx := s.conn4, s.tx4
		if addr.Addr().Is6() && !addr.Addr().Is4In6() {
			conn, tx = s.conn6, s.tx6
		}
		if conn == nil || n == 0 {
			continue
		}
		// T1 as late as possible: the kernel's transmit timestamp, or
		// else the clock read after Transmit re-planned and reselected.
		sendAt := s.clk.Now()
		if _, err := conn.WriteToUDPAddrPort(buf[:n], addr); err != nil {
			s.log.Debug("poll", "source", addr, "err", err)
			continue
		}
		if tx != nil {
			if t, ok := tx.Sent(); ok {
				sendAt = t
			}
		}
		s.eng.Sent(id, sendAt)
	}
}

func (s *syncer) addrOf(id upstream.SourceID) netip.AddrPort {
	for a, i := range s.byAddr {
		if i == id {
			return a
		}
	}
	return netip.AddrPort{}
}

func (s *syncer) engineErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng.Err()
}

// publish hands the server the state to serve now.
func (s *syncer) publish() {
	s.mu.Lock()
	st := s.eng.SyncState()
	s.mu.Unlock()
	s.srv.SetState(st)
}

// receive reads replies with their kernel timestamps until conn closes.
func (s *syncer) receive(conn *net.UDPConn) {
	buf := make([]byte, wire.MaxPacketLen+1)
	oob := make([]byte, 128)
	for {
		n, from, local, t4, err := ntpserver.ReadWithTimestamp(conn, buf, oob, s.clk.Now)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		select {
		case s.rx <- reply{from: from, local: local, pkt: append([]byte(nil), buf[:n]...), t4: t4}:
		case <-s.closed: // the loop has ended: nobody takes it
			return
		}
	}
}

func (s *syncer) saveDrift() {
	if s.driftPath == "" {
		return
	}
	s.mu.Lock()
	f := s.eng.Frequency()
	tr := s.eng.Tracking()
	s.mu.Unlock()
	if tr.Stratum == 0 || tr.RefID == wire.LocalRefID {
		return // never synchronised: the frequency is only the starting guess
	}
	if err := writeDrift(s.driftPath, f, tr.Skew); err != nil {
		s.log.Error(err.Error())
	}
}

// countUnresolved counts the sources the configured lines should give
// but have no address for yet: 1 for a server line, maxsources for a
// pool, with no source of the line added (chronyc activity's "sources
// with unknown address"; chronyd counts the placeholders it keeps for
// them). A line whose addresses are the box's own is not counted.
func (s *syncer) countUnresolved() {
	have := map[string]bool{}
	for _, key := range s.lineOf {
		have[key] = true
	}
	n := 0
	for key, l := range s.lines {
		if have[key] || l.ownAddr {
			continue
		}
		if l.src.Pool {
			n += max(l.src.MaxSources, 1)
		} else {
			n++
		}
	}
	s.unresolved.Store(int32(n))
}
