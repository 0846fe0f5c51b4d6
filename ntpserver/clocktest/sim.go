package clocktest

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// World holds true time.
type World struct {
	base time.Time
	t    float64 // true seconds since base
	seed uint64
}

// Link is the network path to a server.
type Link struct {
	Delay     time.Duration // one-way base delay
	Jitter    time.Duration // mean extra queueing delay per direction (exponential)
	Asymmetry time.Duration // added to the request direction only
	Loss      float64       // probability that a request or reply is lost
}

// LAN is a quiet switched network: 100 µs each way plus 50 µs of
// exponential jitter per direction.
var LAN = Link{Delay: 100 * time.Microsecond, Jitter: 50 * time.Microsecond}

// Sim drives an upstream.Engine against simulated servers, event by
// event: polls when the engine's clock reaches them, replies when the
// network delivers them, observations at a fixed true-time interval.
type Sim struct {
	*World
	Clock  *Clock
	Engine *upstream.Engine

	servers map[upstream.SourceID]*peer
	flight  []delivery
	rng     *rand.Rand
	buf     [128]byte

	// Every is the true-time interval between calls of Observe.
	Every   time.Duration
	Observe func(s *Sim)
	nextObs float64

	Requests int // sent by the engine
	Replies  int // delivered to the engine
}

type peer struct {
	srv  *Server
	link Link
}

type delivery struct {
	at  float64
	id  upstream.SourceID
	pkt []byte
}

// SimAddr is the simulated box's own address: the destination of the
// replies it receives.
const SimAddr = "198.18.0.100"

var simAddr = netip.MustParseAddr(SimAddr)

// Start is a convenient true time to begin simulations: the last day of
// a month, so that leap second announcements are passed on.
var Start = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// NewWorld returns a world at true time start.
func NewWorld(start time.Time, seed uint64) *World {
	return &World{base: start, seed: seed}
}

// Now returns the true time.
func (w *World) Now() time.Time { return w.base.Add(secondsToDuration(w.t)) }

// Elapsed returns the true time since the start, in seconds.
func (w *World) Elapsed() float64 { return w.t }

// NewSim returns a simulation of eng, which must run on clk (a clock of
// w). The world's seed also drives the network.
func NewSim(w *World, clk *Clock, eng *upstream.Engine) *Sim {
	return &Sim{
		World:   w,
		Clock:   clk,
		Engine:  eng,
		servers: map[upstream.SourceID]*peer{},
		rng:     rand.New(rand.NewPCG(w.seed, 0x5e7)),
	}
}

// AddServer registers srv with the engine as `server` line src.
func (s *Sim) AddServer(srv *Server, link Link, src config.Source) upstream.SourceID {
	id := s.Engine.AddSource(srv.Addr.Addr().String(), srv.Addr, src)
	s.servers[id] = &peer{srv: srv, link: link}
	return id
}

// Server returns the simulated server behind a source.
func (s *Sim) Server(id upstream.SourceID) *Server { return s.servers[id].srv }

// Run advances true time by d, processing every event on the way.
func (s *Sim) Run(d time.Duration) {
	until := s.t + d.Seconds()
	if s.Every > 0 && s.nextObs < s.t {
		s.nextObs = s.t
	}
	for {
		next, kind := until, evEnd
		if s.Every > 0 && s.Observe != nil && s.nextObs < next {
			next, kind = s.nextObs, evObserve
		}
		if len(s.flight) > 0 && s.flight[0].at < next {
			next, kind = s.flight[0].at, evReply
		}
		id, at, ok := s.Engine.NextPoll()
		if ok {
			if tp := s.trueTimeOf(at); tp < next {
				next, kind = tp, evPoll
			}
		}
		s.advance(next)
		switch kind {
		case evEnd:
			return
		case evObserve:
			s.Observe(s)
			s.nextObs += s.Every.Seconds()
		case evReply:
			d := s.flight[0]
			s.flight = s.flight[1:]
			s.Replies++
			s.Engine.Receive(d.id, d.pkt, s.Clock.Now(), simAddr)
		case evPoll:
			s.poll(id)
		}
	}
}

const (
	evEnd = iota
	evObserve
	evReply
	evPoll
)

func (s *Sim) advance(t float64) {
	if t > s.t {
		s.t = t
	}
}

// trueTimeOf returns the true time at which the clock will read at.
func (s *Sim) trueTimeOf(at time.Time) float64 {
	dt := at.Sub(s.Clock.Now()).Seconds() / (1 + s.Clock.rate())
	// Polls are never in the past, and the clock's nanosecond rounding
	// must not stall the loop.
	return s.t + max(dt, 1e-9)
}

// poll sends the engine's request to the server and queues the reply.
func (s *Sim) poll(id upstream.SourceID) {
	n := s.Engine.Transmit(id, s.Clock.Now(), s.buf[:])
	if n == 0 {
		return
	}
	s.Requests++
	p := s.servers[id]
	if p == nil || s.lost(p.link) {
		return
	}
	out := p.link.Delay.Seconds() + p.link.Asymmetry.Seconds() + s.jitter(p.link)
	arrive := s.t + out
	reply := p.srv.answer(s.World, s.buf[:n], arrive)
	if reply == nil || s.lost(p.link) {
		return
	}
	back := p.link.Delay.Seconds() + s.jitter(p.link)
	at := arrive + p.srv.ProcTime.Seconds() + back
	d := delivery{at: at, id: id, pkt: reply}
	i, _ := slices.BinarySearchFunc(s.flight, at, func(d delivery, t float64) int {
		if d.at <= t {
			return -1
		}
		return 1
	})
	s.flight = slices.Insert(s.flight, i, d)
}

func (s *Sim) jitter(l Link) float64 {
	if l.Jitter <= 0 {
		return 0
	}
	return s.rng.ExpFloat64() * l.Jitter.Seconds()
}

func (s *Sim) lost(l Link) bool { return l.Loss > 0 && s.rng.Float64() < l.Loss }
