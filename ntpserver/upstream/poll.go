package upstream

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// This file is polling: when to send, what to send, the reachability
// register, iburst, poll interval backoff and Kiss-o'-Death.

const (
	maxKoDPoll    = 10 // a RATE kiss raises the poll floor at most to this (chrony's default maxpoll)
	unreachPolls  = 8  // polls without a reply before a source counts as lost
	burstInterval = 2 * time.Second
	missedAdj     = 0.25 // poll score added per missed reply
	missedAdjSync = 0.1  // ... for the selected source
	badPacketAdj  = 0.1  // ... per reply that gave no good sample
)

// presendDelay is how long after a `presend` request the measurement's
// request goes (chrony's WARM_UP_DELAY).
const presendDelay = 2 * time.Second

func pollInterval(poll int) time.Duration {
	return time.Duration(math.Ldexp(float64(time.Second), poll))
}

// NextPoll returns the source whose poll is due first and when (clock
// time); ok is false if no source is being polled.
func (e *Engine) NextPoll() (id SourceID, at time.Time, ok bool) {
	for _, s := range e.sources {
		if s.stopped {
			continue
		}
		if !ok || s.nextPoll.Before(at) {
			id, at, ok = s.id, s.nextPoll, true
		}
	}
	return id, at, ok
}

// Transmit builds the client request for id at clock time now into buf
// (at least 48 octets) and returns its length, 0 if there is nothing to
// send. It records the request, shifts the reachability register and
// schedules the next poll.
func (e *Engine) Transmit(id SourceID, now time.Time, buf []byte) int {
	s := e.source(id)
	if s == nil || s.stopped || len(buf) < wire.HeaderLen {
		return 0
	}
	now = now.Round(0)
	if s.xmt != 0 && !s.answered {
		adj := missedAdj
		if s == e.selected {
			adj = missedAdjSync
		}
		e.adjustPoll(s, adj)
		if s.presendDone == 0 {
			if fs, ok := s.filterMissed(); ok {
				e.useSample(s, fs, now)
			}
		}
	}
	s.reach <<= 1
	s.reachSize = min(s.reachSize+1, 8)
	s.txSinceRx++

	p := wire.Packet{
		Version:   uint8(s.cfg.Version), // `version`, default 4
		Mode:      wire.ModeClient,
		Poll:      int8(s.poll),
		Precision: 32, // reveal nothing about our clock, as chrony
		Transmit:  e.nonce(),
	}
	e.interleavedRequest(s, &p)
	n := p.Encode(buf)
	s.xmt, s.t1, s.p1, s.answered = p.Transmit, now, e.servo.Pending(now), false
	s.lastTx = now
	s.txCount++

	interval := pollInterval(s.poll)
	// `presend`: at a polling interval of 2^presend s or more, each poll
	// starts with an extra request 2 s ahead (chrony's WARM_UP_DELAY),
	// whose reply only refreshes the ARP caches on the way and counts
	// for reachability, not as a sample.
	presend := false
	switch {
	case s.presendDone > 0:
		s.presendDone--
		if s.presendDone > 0 {
			// The second of interleaved mode's two.
			presend, interval = true, presendDelay
		}
	case s.poll >= s.cfg.Presend && s.burstTotal == 0:
		// In interleaved mode two requests go ahead, so that the
		// server has the transmit time of a fresh reply (chrony).
		s.presendDone, presend = 1, true
		if s.il.cookie != 0 {
			s.presendDone = 2
		}
		interval = presendDelay
	}
	if !presend && s.burstTotal == 0 {
		s.burstGood, s.burstMode = 0, false
		// `burst`: a regular poll starts a burst of up to 4 requests
		// that ends with the first good sample, as long as the average
		// interval stays above minpoll (chrony).
		if s.cfg.Burst && s.poll > s.cfg.MinPoll {
			s.burstTotal = min(1<<min(s.poll-s.cfg.MinPoll, 2), 4)
			s.burstGood = 1
		}
	}
	if s.burstTotal > 0 && !presend {
		s.burstTotal--
		if s.burstTotal > 0 {
			interval = min(interval, burstInterval)
		} else {
			s.burstMode = false
		}
	}
	s.nextPoll = now.Add(interval)

	e.advance(now)
	if s.reach == 0 && s.txSinceRx == unreachPolls {
		e.log.Warn("source unreachable", "source", s.name, "polls", s.txSinceRx)
	}
	// A source may have just become unreachable: select again, without
	// a clock update.
	e.reselect(now, e.cooked(now), nil)
	return n
}

// Sent tells the engine when the request just made for source id really
// left: the kernel's transmit timestamp, or the clock read just before
// the send. It replaces the time given to Transmit, which was read before
// the request was built, the slew re-planned and the sources reselected.
// A time earlier than that, or more than a second later, is not this
// request's and is ignored.
func (e *Engine) Sent(id SourceID, t time.Time) {
	s := e.source(id)
	if s == nil || s.xmt == 0 || s.answered {
		return
	}
	t = t.Round(0)
	if d := t.Sub(s.t1); d < 0 || d > time.Second {
		return
	}
	s.t1, s.p1 = t, e.servo.Pending(t)
}

// adjustPoll is chrony's poll score: fractional adjustments accumulate
// until they move the poll exponent by whole steps, within
// [minpoll (or the RATE floor), maxpoll].
func (e *Engine) adjustPoll(s *source, adj float64) {
	s.pollScore += adj
	if s.pollScore >= 1 {
		s.poll += int(s.pollScore)
		s.pollScore -= float64(int(s.pollScore))
	}
	if s.pollScore < 0 {
		k := int(s.pollScore - 1)
		s.poll += k
		s.pollScore -= float64(k)
	}
	lo := max(s.cfg.MinPoll, s.kodMinPoll)
	hi := max(s.cfg.MaxPoll, lo)
	switch {
	case s.poll < lo:
		s.poll, s.pollScore = lo, 0
	case s.poll > hi:
		s.poll, s.pollScore = hi, 1
	}
}

// reschedule moves the next poll after a change of poll interval.
func (s *source) reschedule() {
	if s.burstTotal > 0 || s.lastTx.IsZero() {
		return
	}
	s.nextPoll = s.lastTx.Add(pollInterval(s.poll))
}

// pollAdjustment is chrony's rule after a good sample: back off quickly
// when the sample is far from the prediction (the source is not being
// tracked well), otherwise move the poll so that the regression holds
// about target samples (`polltarget`, default 8).
func pollAdjustment(errInEstimate, peerDistance float64, samples, target int) float64 {
	if errInEstimate > peerDistance && peerDistance > 0 {
		return -math.Log2(errInEstimate / peerDistance)
	}
	pt := float64(max(target, 1))
	adj := (float64(samples)/pt - 1) / pt
	if samples < target {
		adj *= 2
	}
	return adj
}

// kissed handles a Kiss-o'-Death (RFC 5905 §7.4): RATE backs off,
// DENY and RSTR stop the source for good; other codes are ignored.
func (e *Engine) kissed(s *source, p *wire.Packet, now time.Time) {
	code := wire.RefIDString(0, p.RefID)
	switch code {
	case "RATE":
		s.kiss = code
		floor := min(max(s.poll+1, int(p.Poll)), max(s.cfg.MaxPoll, maxKoDPoll))
		s.kodMinPoll = max(s.kodMinPoll, floor)
		e.adjustPoll(s, 0)
		s.burstTotal, s.burstGood = 0, 0
		iv := pollInterval(s.poll)
		s.nextPoll = s.lastTx.Add(iv + 4*iv)
		e.log.Warn("kiss-o'-death RATE: polling less often", "source", s.name, "poll", s.poll)
	case "DENY", "RSTR":
		s.kiss = code
		s.stopped = true
		e.log.Warn("kiss-o'-death: source refuses us; no longer polled", "source", s.name, "code", code)
		e.reselect(now, e.cooked(now), nil)
	}
}

// Unreachable lists the sources the runner may re-resolve and replace:
// those with an empty reachability register after at least 8 polls
// (chrony's bad sources). The runner rate-limits the replacements.
func (e *Engine) Unreachable() []SourceID {
	var ids []SourceID
	for _, s := range e.sources {
		if !s.stopped && s.reach == 0 && s.txSinceRx >= unreachPolls {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// Refused lists the pool members that refused service (a DENY or RSTR
// Kiss-o'-Death): the runner replaces them at once with another address
// of the pool, and does not take that address again.
func (e *Engine) Refused() []SourceID {
	var ids []SourceID
	for _, s := range e.sources {
		if s.stopped && s.cfg.Pool {
			ids = append(ids, s.id)
		}
	}
	return ids
}

func nan() float64 { return math.NaN() }
