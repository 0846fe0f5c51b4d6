package clocktest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// World holds true time.
type World struct {
	base   time.Time
	t      float64 // true seconds since base
	seed   uint64
	clocks uint64 // made so far: each gets its own random stream
}

// Link is the network path to a server.
type Link struct {
	Delay     time.Duration // one-way base delay
	Jitter    time.Duration // mean extra queueing delay per direction (exponential)
	Asymmetry time.Duration // added to the request direction only
	Loss      float64       // probability that a request or reply is lost

	// ParetoScale and ParetoShape, when both are set, add a
	// heavy-tailed queueing delay per direction, Pareto (type II, Lomax)
	// distributed: P(extra > x) = (1 + x/ParetoScale)^-ParetoShape.
	// Its mean is ParetoScale/(ParetoShape-1) for a shape above 1; a
	// shape of 1.5 to 2.5 has the tail of busy routers and Wi-Fi, far
	// beyond the exponential Jitter's.
	ParetoScale time.Duration
	ParetoShape float64

	// Late makes some packets late in one direction only.
	Late Late
}

// Late is a one-direction delay spike: with probability Prob a packet
// going in direction Dir is held for an extra time uniform in
// [Min, Max] (as "1 in 50 samples 10–50 ms late, replies only":
// Late{Prob: 0.02, Min: 10 * time.Millisecond, Max: 50 * time.Millisecond,
// Dir: Reply}).
type Late struct {
	Prob     float64
	Min, Max time.Duration
	Dir      Direction
}

// Direction is a direction on a Link.
type Direction uint8

const (
	Request Direction = iota // from the polling client to the server
	Reply                    // back to the client
)

// oneWay draws the time a packet takes in direction dir, in seconds.
// The random draws come in a fixed order, and only for the features the
// link has: a link without them draws what it always drew.
func (l Link) oneWay(rng *rand.Rand, dir Direction) float64 {
	d := l.Delay.Seconds()
	if dir == Request {
		d += l.Asymmetry.Seconds()
	}
	if l.Jitter > 0 {
		d += rng.ExpFloat64() * l.Jitter.Seconds()
	}
	if l.ParetoScale > 0 && l.ParetoShape > 0 {
		// Inverse transform: 1-U is in (0, 1].
		u := 1 - rng.Float64()
		d += l.ParetoScale.Seconds() * (math.Pow(u, -1/l.ParetoShape) - 1)
	}
	if l.Late.Prob > 0 && dir == l.Late.Dir && rng.Float64() < l.Late.Prob {
		lo, hi := l.Late.Min.Seconds(), max(l.Late.Max, l.Late.Min).Seconds()
		d += lo + rng.Float64()*(hi-lo)
	}
	return d
}

// LAN is a quiet switched network: 100 µs each way plus 50 µs of
// exponential jitter per direction.
var LAN = Link{Delay: 100 * time.Microsecond, Jitter: 50 * time.Microsecond}

// Sim drives one upstream.Engine against simulated servers: a Net with
// a single box (at SimAddr), for the many tests of one box.
type Sim struct {
	*World
	*Box
	net *Net

	// Every is the true-time interval between calls of Observe.
	Every   time.Duration
	Observe func(s *Sim)
}

// SimAddr is the address of a Sim's box.
const SimAddr = "198.18.0.100"

// Start is a convenient true time to begin simulations: 30 June, a day
// on which leap second announcements are passed on.
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
	n := NewNet(w)
	return &Sim{World: w, Box: n.AddBox(SimAddr, clk, eng), net: n}
}

// AddProbe starts a probe of the sim's box: see Net.AddProbe.
func (s *Sim) AddProbe(link Link, every time.Duration) *Probe {
	return s.net.AddProbe(s.Box, link, every)
}

// Run advances true time by d, processing every event on the way.
func (s *Sim) Run(d time.Duration) {
	s.net.Every, s.net.Observe = s.Every, nil
	if s.Observe != nil {
		s.net.Observe = func(*Net) { s.Observe(s) }
	}
	s.net.Run(d)
}
