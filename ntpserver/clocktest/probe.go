package clocktest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Probe is a simulated NTP client with a perfect clock, like the chrony
// probe of the lab: every Every of true time it sends a mode-3 request
// to a Box over a Link, and the box answers through its real server
// path (Box.answer: ntpserver.Respond with the state its engine serves
// and its clock's readings). For each reply it records what a client
// sees: the offset and delay computed NTP-style from the four
// timestamps, its own two being true time, and the root delay and
// dispersion the box claims.
//
// A probe draws its link's delays and losses from a random stream of
// its own, so that adding one does not change what the boxes see.
type Probe struct {
	Box   *Box
	Link  Link
	Every time.Duration

	// Replies are the replies received, in order.
	Replies []ProbeReply
	Sent    int

	net     *Net
	rng     *rand.Rand
	next    float64
	pending map[wire.Time64]float64 // transmit timestamp → true time of the box's receipt (NaN until then)
}

// ProbeReply is one reply a probe received.
type ProbeReply struct {
	At float64 // true time it arrived, s since the world's start
	// Offset is the box's time minus true time as a client measures
	// it: ((T2-T1)+(T3-T4))/2, with T1 and T4 the true send and
	// receive times. Delay is (T4-T1)-(T3-T2).
	Offset, Delay float64
	// RxError is the box's receive timestamp minus the true time it
	// received the request: the error of the served time itself.
	RxError float64
	// RootDelay and RootDisp are the reply's, in seconds.
	RootDelay, RootDisp float64
	// Synced: the reply's leap indicator is not 3 (alarm).
	Synced bool
	// InBound: |Offset| <= RootDelay/2 + RootDisp + Delay/2, the bound
	// within which NTP promises the client's offset lies.
	InBound bool
}

// Bound is the reply's error bound: RootDelay/2 + RootDisp + Delay/2.
func (r ProbeReply) Bound() float64 { return r.RootDelay/2 + r.RootDisp + r.Delay/2 }

// AddProbe starts a probe of box b over link l, sending its first
// request now and then every every of true time.
func (n *Net) AddProbe(b *Box, l Link, every time.Duration) *Probe {
	p := &Probe{
		Box: b, Link: l, Every: every,
		net:     n,
		rng:     rand.New(rand.NewPCG(n.seed, 0x9b0be+uint64(len(n.probes)))),
		next:    n.t,
		pending: map[wire.Time64]float64{},
	}
	n.probes = append(n.probes, p)
	return p
}

// send sends the probe's request now.
func (p *Probe) send() {
	n := p.net
	p.next = n.t + p.Every.Seconds()
	t1 := wire.TimeToNTP(n.Now())
	buf := make([]byte, wire.HeaderLen)
	(&wire.Packet{Version: 4, Mode: wire.ModeClient, Poll: 6, Transmit: t1}).Encode(buf)
	p.Sent++
	if n.lostProbe(p) {
		return
	}
	p.pending[t1] = math.NaN()
	n.schedule(event{at: n.t + p.Link.oneWay(p.rng, Request), req: true, box: p.Box, pkt: buf, probe: p})
}

// lost draws a loss from the net's stream; the probe uses its own.
func (n *Net) lostProbe(p *Probe) bool { return p.Link.Loss > 0 && p.rng.Float64() < p.Link.Loss }

// reply puts the box's reply to a request received at true time rx on
// the way back, leaving at true time t.
func (p *Probe) reply(pkt []byte, rx, t float64) {
	var q wire.Packet
	if q.Decode(pkt) != nil {
		return
	}
	if _, ok := p.pending[q.Origin]; !ok {
		return
	}
	p.pending[q.Origin] = rx
	if p.net.lostProbe(p) {
		delete(p.pending, q.Origin)
		return
	}
	p.net.schedule(event{at: t + p.Link.oneWay(p.rng, Reply), box: p.Box, pkt: pkt, probe: p})
}

// receive records a reply arriving now.
func (p *Probe) receive(pkt []byte) {
	n := p.net
	var q wire.Packet
	if q.Decode(pkt) != nil || q.Mode != wire.ModeServer {
		return
	}
	rx, ok := p.pending[q.Origin]
	if !ok {
		return
	}
	delete(p.pending, q.Origin)
	now := n.Now()
	t1 := q.Origin.Time(now)
	t2, t3 := q.Receive.Time(now), q.Transmit.Time(now)
	t4 := now
	off := (t2.Sub(t1) + t3.Sub(t4)).Seconds() / 2
	delay := (t4.Sub(t1) - t3.Sub(t2)).Seconds()
	r := ProbeReply{
		At:        n.t,
		Offset:    off,
		Delay:     delay,
		RxError:   t2.Sub(n.base).Seconds() - rx,
		RootDelay: q.RootDelay.Duration().Seconds(),
		RootDisp:  q.RootDispersion.Duration().Seconds(),
		Synced:    q.Leap != wire.LeapUnsynchronised,
	}
	r.InBound = math.Abs(r.Offset) <= r.Bound()
	p.Replies = append(p.Replies, r)
}

// ProbeStats sums up a probe's synchronised replies.
type ProbeStats struct {
	Replies int // all replies
	Synced  int // with leap indicator not 3
	InBound int // synchronised and inside their bound
	// Percentiles of |Offset| of the synchronised replies, s.
	P50, P95, P99, Max float64
	// WorstExcess is the largest |Offset| minus bound of a synchronised
	// reply (negative when all are inside), s.
	WorstExcess float64
}

// InBoundShare is the fraction of synchronised replies inside their
// bound (1 when there are none).
func (s ProbeStats) InBoundShare() float64 {
	if s.Synced == 0 {
		return 1
	}
	return float64(s.InBound) / float64(s.Synced)
}

// Stats sums up the replies that arrived at true time since (s since
// the world's start) or later.
func (p *Probe) Stats(since float64) ProbeStats {
	var st ProbeStats
	var abs Stats
	st.WorstExcess = math.Inf(-1)
	for _, r := range p.Replies {
		if r.At < since {
			continue
		}
		st.Replies++
		if !r.Synced {
			continue
		}
		st.Synced++
		if r.InBound {
			st.InBound++
		}
		abs.Add(r.Offset)
		st.WorstExcess = max(st.WorstExcess, math.Abs(r.Offset)-r.Bound())
	}
	st.P50, st.P95, st.P99, st.Max = abs.Percentile(50), abs.Percentile(95), abs.Percentile(99), abs.MaxAbs
	return st
}
