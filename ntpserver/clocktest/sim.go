package clocktest

import (
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

// Run advances true time by d, processing every event on the way.
func (s *Sim) Run(d time.Duration) {
	s.net.Every, s.net.Observe = s.Every, nil
	if s.Observe != nil {
		s.net.Observe = func(*Net) { s.Observe(s) }
	}
	s.net.Run(d)
}
