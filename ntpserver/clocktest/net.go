package clocktest

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Net is a simulated LAN: boxes, each an upstream.Engine on its own
// Clock at its own address, that poll simulated Servers and each other
// over Links. A box answers requests as an ntpbox does: its clock's
// time, and the header fields (stratum, reference ID, root delay, ...)
// of the state its engine serves at that moment, so that
// synchronisation loops and orphan mode play out as on a real network.
// Each reply tells the polling engine its own address, as the kernel's
// packet-info message does.
type Net struct {
	*World
	Boxes []*Box

	flight []event
	rng    *rand.Rand
	probes []*Probe

	// Every is the true-time interval between calls of Observe.
	Every   time.Duration
	Observe func(n *Net)
	nextObs float64
}

// Box is one simulated ntpbox on a Net.
type Box struct {
	Addr   netip.Addr
	Clock  *Clock
	Engine *upstream.Engine
	// Up reports whether the box answers requests at true time t; nil:
	// always. (Its own polling goes on regardless.)
	Up func(t float64) bool
	// ProcTime is how long it holds a request (receive to transmit
	// timestamp). Default 10 µs.
	ProcTime time.Duration
	// Tick, when set, calls Engine.Tick at this true-time interval, as
	// the daemon's sync loop does every second (upstream.Config.Tick).
	Tick time.Duration
	// TxDelay and TxJitter are the time between the engine's reading
	// of the clock for a request (its T1, which the engine keeps) and
	// the request leaving the box: TxDelay plus an exponential time of
	// mean TxJitter, as the scheduler and the network stack take on a
	// real machine. Default 0.
	TxDelay, TxJitter time.Duration

	net      *Net
	routes   map[upstream.SourceID]*route
	buf      [128]byte
	nextTick float64

	Requests int // sent by the engine
	Replies  int // delivered to the engine
	Answered int // requests from other boxes answered
}

// route is where a source's requests go: a simulated server or a box.
type route struct {
	srv  *Server
	box  *Box
	link Link
}

// event is a datagram in flight: a reply to box.Engine for source id,
// or (req) a request to box from a peer's source id.
type event struct {
	at   float64
	req  bool
	box  *Box // the receiver
	from *Box // req: the box that polls
	id   upstream.SourceID
	pkt  []byte
	link Link
	// probe: a request of the probe to box (req), or a reply to it.
	probe *Probe
}

// NewNet returns an empty network in world w. The world's seed drives
// the network's delays and losses.
func NewNet(w *World) *Net {
	return &Net{World: w, rng: rand.New(rand.NewPCG(w.seed, 0x5e7))}
}

// AddBox puts a box at addr ("198.18.0.11") whose engine eng runs on
// clk (a clock of the net's world).
func (n *Net) AddBox(addr string, clk *Clock, eng *upstream.Engine) *Box {
	b := &Box{
		Addr:     netip.MustParseAddr(addr),
		Clock:    clk,
		Engine:   eng,
		ProcTime: 10 * time.Microsecond,
		net:      n,
		routes:   map[upstream.SourceID]*route{},
	}
	n.Boxes = append(n.Boxes, b)
	return b
}

// AddServer registers srv with the box's engine as `server` line src.
func (b *Box) AddServer(srv *Server, link Link, src config.Source) upstream.SourceID {
	id := b.Engine.AddSource(srv.Addr.Addr().String(), srv.Addr, src)
	b.routes[id] = &route{srv: srv, link: link}
	return id
}

// AddBox registers another box of the net with this box's engine as
// `server` line src (port 123).
func (b *Box) AddBox(peer *Box, link Link, src config.Source) upstream.SourceID {
	id := b.Engine.AddSource(peer.Addr.String(), netip.AddrPortFrom(peer.Addr, 123), src)
	b.routes[id] = &route{box: peer, link: link}
	return id
}

// Server returns the simulated server behind a source (nil for a box).
func (b *Box) Server(id upstream.SourceID) *Server { return b.routes[id].srv }

// Run advances true time by d, processing every event on the way.
func (n *Net) Run(d time.Duration) {
	until := n.t + d.Seconds()
	if n.Every > 0 && n.nextObs < n.t {
		n.nextObs = n.t
	}
	for _, b := range n.Boxes {
		if b.Tick > 0 && b.nextTick < n.t {
			b.nextTick = n.t + b.Tick.Seconds()
		}
	}
	for {
		next, kind := until, evEnd
		var box *Box
		var id upstream.SourceID
		if n.Every > 0 && n.Observe != nil && n.nextObs < next {
			next, kind = n.nextObs, evObserve
		}
		if len(n.flight) > 0 && n.flight[0].at < next {
			next, kind = n.flight[0].at, evDeliver
		}
		for _, b := range n.Boxes {
			if pid, at, ok := b.Engine.NextPoll(); ok {
				if tp := b.trueTimeOf(at); tp < next {
					next, kind, box, id = tp, evPoll, b, pid
				}
			}
			if b.Tick > 0 && b.nextTick < next {
				next, kind, box = b.nextTick, evTick, b
			}
		}
		var probe *Probe
		for _, p := range n.probes {
			if p.next < next {
				next, kind, probe = p.next, evProbe, p
			}
		}
		n.advance(next)
		switch kind {
		case evEnd:
			return
		case evObserve:
			n.Observe(n)
			n.nextObs += n.Every.Seconds()
		case evDeliver:
			ev := n.flight[0]
			n.flight = n.flight[1:]
			n.deliver(ev)
		case evPoll:
			box.poll(id)
		case evTick:
			box.Engine.Tick(box.Clock.Now())
			box.nextTick += box.Tick.Seconds()
		case evProbe:
			probe.send()
		}
	}
}

const (
	evEnd = iota
	evObserve
	evDeliver
	evPoll
	evTick
	evProbe
)

func (n *Net) advance(t float64) {
	if t > n.t {
		n.t = t
	}
}

// trueTimeOf returns the true time at which the box's clock will read
// at.
func (b *Box) trueTimeOf(at time.Time) float64 {
	c := b.Clock
	dt := at.Sub(c.exactNow()).Seconds() / (1 + c.rate())
	// Polls are never in the past, and the clock's nanosecond rounding
	// must not stall the loop.
	return b.net.t + max(dt, 1e-9)
}

// poll sends the engine's request for source id on its way.
func (b *Box) poll(id upstream.SourceID) {
	n := b.net
	k := b.Engine.Transmit(id, b.Clock.Now(), b.buf[:])
	if k == 0 {
		return
	}
	b.Requests++
	// The request leaves after the box's transmit latency.
	sent := n.t + b.TxDelay.Seconds()
	if b.TxJitter > 0 {
		sent += n.rng.ExpFloat64() * b.TxJitter.Seconds()
	}
	r := b.routes[id]
	if r == nil || n.lost(r.link) {
		return
	}
	arrive := sent + r.link.oneWay(n.rng, Request)
	if r.box != nil {
		// A box answers with its state when the request arrives.
		n.schedule(event{at: arrive, req: true, box: r.box, from: b, id: id, pkt: slices.Clone(b.buf[:k]), link: r.link})
		return
	}
	// A server is a function of true time: its answer is known now.
	reply := r.srv.answer(n.World, b.buf[:k], arrive)
	if reply == nil {
		return
	}
	n.sendReply(b, id, reply, arrive+(r.srv.ProcTime+r.srv.TxLatency).Seconds(), r.link)
}

// sendReply puts a reply sent at true time t on the link back to box b.
func (n *Net) sendReply(b *Box, id upstream.SourceID, reply []byte, t float64, l Link) {
	if n.lost(l) {
		return
	}
	at := t + l.oneWay(n.rng, Reply)
	n.schedule(event{at: at, box: b, id: id, pkt: reply})
}

// deliver hands a datagram to its receiver.
func (n *Net) deliver(ev event) {
	b := ev.box
	if p := ev.probe; p != nil {
		if !ev.req {
			p.receive(ev.pkt)
			return
		}
		// The box answers the probe as any client, through its server.
		if reply := b.answer(ev.pkt); reply != nil {
			p.reply(reply, n.t, n.t+b.ProcTime.Seconds())
		}
		return
	}
	if !ev.req {
		b.Replies++
		b.Engine.Receive(ev.id, ev.pkt, b.Clock.Now(), b.Addr)
		return
	}
	reply := b.answer(ev.pkt)
	if reply == nil {
		return
	}
	b.Answered++
	n.sendReply(ev.from, ev.id, reply, n.t+b.ProcTime.Seconds(), ev.link)
}

// answer is the box's NTP server: the reply to req received now, or nil
// while the box is down.
func (b *Box) answer(req []byte) []byte {
	if b.Up != nil && !b.Up(b.net.t) {
		return nil
	}
	st := b.Engine.SyncState()
	rx := st.CookTime(b.Clock.Now())
	out := make([]byte, wire.HeaderLen)
	k, drop := ntpserver.Respond(out, req, wire.TimeToNTP(rx), &st, 0)
	if drop != ntpserver.DropNone {
		return nil
	}
	wire.PutTransmit(out, wire.TimeToNTP(rx.Add(b.ProcTime)))
	return out[:k]
}

// schedule queues ev after everything due at the same time or earlier.
func (n *Net) schedule(ev event) {
	i, _ := slices.BinarySearchFunc(n.flight, ev.at, func(e event, t float64) int {
		if e.at <= t {
			return -1
		}
		return 1
	})
	n.flight = slices.Insert(n.flight, i, ev)
}

func (n *Net) lost(l Link) bool { return l.Loss > 0 && n.rng.Float64() < l.Loss }
