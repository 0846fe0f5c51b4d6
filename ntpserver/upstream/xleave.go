package upstream

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/discipline"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// The client side of NTP's interleaved mode: the `xleave` server option,
// as chronyd does it (ntp_core.c: transmit_packet, receive_packet).
//
// A server's transmit timestamp in basic mode is read before the reply
// is sent; the reply leaves later, by the time the server's network
// stack takes, and a client reads the server's time that much early:
// its offset is off by half of it. In interleaved mode the server sends,
// in the reply to our next request, the time the previous reply really
// left (its kernel's timestamp). So:
//
//   - a request asks for it by carrying, as its origin, the receive
//     timestamp of the last reply (chronyd's server knows its own
//     receive timestamps), and, as its receive field, a cookie that the
//     interleaved reply echoes as its origin;
//   - an interleaved reply completes the exchange before it: our
//     request's kernel transmit time, the server's receive time, the
//     server's real transmit time (this reply's transmit field) and our
//     kernel receive time of that reply. When the polling interval is
//     long (more than 10 times the round trip, chrony's
//     MAX_INTERLEAVED_L2L_RATIO) that whole previous exchange is used;
//     otherwise our transmit and the server's receive of the current
//     request, which are nearer in time to the other two;
//   - a server that does not know the timestamp answers in basic mode,
//     and the reply is used as one.
//
// The local times kept from one exchange to the next are re-expressed at
// every clock update, as the samples are (reframe).

// maxClientInterleavedTx: after this many requests without a valid
// reply, requests go in basic mode, so that the server does not answer
// with a transmit time from long ago (chrony's MAX_CLIENT_INTERLEAVED_TX).
const maxClientInterleavedTx = 4

// maxInterleavedL2LRatio is chrony's MAX_INTERLEAVED_L2L_RATIO: the
// previous exchange's own transmit and receive times are used when the
// time from our request to the reply before it is more than 1/ratio
// times that exchange's round trip.
const maxInterleavedL2LRatio = 0.1

// localTime is a reading of the system clock and the cooked correction
// at that time: the cooked time is sec(raw) + p. The zero value is "none".
type localTime struct {
	raw time.Time
	p   float64
}

func (l localTime) zero() bool { return l.raw.IsZero() }

// interleaved is what a source in interleaved mode keeps of the last
// valid reply (chrony's remote_ntp_rx, remote_ntp_tx, local_rx,
// prev_local_tx and local_ntp_rx).
type interleaved struct {
	remoteRx, remoteTx  wire.Time64 // the reply's receive and transmit timestamps
	rootDelay, rootDisp float64     // its root delay and dispersion
	synced              bool        // it passed tests 6 and 7 (chrony's valid_timestamps)
	localRx             localTime   // when it arrived; zero: no reply kept
	// prevTx is when the request it answered left, kept when that
	// exchange may be completed by the next interleaved reply: it was
	// interleaved itself or gave no sample (a basic sample is not used
	// twice).
	prevTx localTime
	// cookie is the receive field of the request outstanding, which an
	// interleaved reply has as its origin; 0: it went in basic mode.
	cookie wire.Time64
	// last: the last valid reply was interleaved (chronyc ntpdata);
	// response is the server's processing time it showed (the
	// transmit time it sent less its receive time of the request
	// that reply answered).
	last     bool
	response float64
}

// interleavedRequest fills p's origin and receive fields when the
// source is in interleaved mode and has a reply to ask about, and
// records the cookie.
func (e *Engine) interleavedRequest(s *source, p *wire.Packet) {
	s.il.cookie = 0
	if !s.interleavable() {
		return
	}
	p.Origin = s.il.remoteRx
	for {
		// A cookie: chronyd's receive field of a client request is
		// as random as its transmit field (precision 32).
		c := e.nonce()
		if c != p.Origin && c != p.Transmit {
			p.Receive, s.il.cookie = c, c
			return
		}
	}
}

// keepTimestamps records a valid reply for the next interleaved request
// (chrony's update of the NTP timestamps in receive_packet). t4 is when
// it arrived; inter says it was interleaved, good that it gave a sample.
// Call it after the measurement and before any clock update the reply
// may cause: the times it keeps are then re-expressed by reframe.
func (e *Engine) keepTimestamps(s *source, p *wire.Packet, t4 time.Time, inter, good bool) {
	if !s.cfg.XLeave || p.Origin.IsZero() || p.Receive.IsZero() || p.Transmit.IsZero() {
		return
	}
	il := &s.il
	if inter {
		il.response = math.Abs(p.Transmit.Sub(il.remoteRx).Seconds())
	}
	il.remoteRx, il.remoteTx = p.Receive, p.Transmit
	il.rootDelay, il.rootDisp = p.RootDelay.Duration().Seconds(), p.RootDispersion.Duration().Seconds()
	il.synced = p.Leap != wire.LeapUnsynchronised && p.Stratum >= 1 && p.Stratum < 16 &&
		il.rootDelay/2+il.rootDisp < maxDispersion
	il.localRx = localTime{t4, e.servo.Pending(t4)}
	il.last = inter
	if inter || !good {
		il.prevTx = localTime{s.t1, s.p1}
	} else {
		il.prevTx = localTime{}
	}
}

// duplicate is chrony's test 1 in interleaved mode: the reply repeats
// both timestamps of the last one. (One alone may repeat: a server
// without a kernel transmit timestamp sends, interleaved, the transmit
// time its basic reply already carried.)
func (s *source) duplicate(p *wire.Packet) bool {
	return s.il.remoteRx != 0 && p.Receive == s.il.remoteRx && p.Transmit == s.il.remoteTx
}

// interleavable reports whether the next request can go in interleaved
// mode (chrony's condition in transmit_timeout). txSinceRx counts that
// request already.
func (s *source) interleavable() bool {
	return s.cfg.XLeave && s.txSinceRx <= maxClientInterleavedTx && s.il.remoteRx != 0 && !s.il.localRx.zero()
}

// measureInterleaved is measure for an interleaved reply: the exchange
// it completes (see the top of this file). ok is false when it gives no
// sample: the exchange before was a basic one already used, or a test
// failed.
func (e *Engine) measureInterleaved(s *source, p *wire.Packet) (sample, bool) {
	il := &s.il
	if !il.synced {
		return sample{}, false // chrony: the earlier reply must have been synchronised
	}
	cur := localTime{s.t1, s.p1}
	t1, t2 := cur, p.Receive
	reqRx := il.remoteRx // the server's receive time of the request its transmit time answers
	rootDelay := max(p.RootDelay.Duration().Seconds(), il.rootDelay)
	rootDisp := max(p.RootDispersion.Duration().Seconds(), il.rootDisp)
	if !il.prevTx.zero() && maxInterleavedL2LRatio*(e.cookedOf(cur)-e.cookedOf(il.localRx)) > e.cookedOf(il.localRx)-e.cookedOf(il.prevTx) {
		t1, t2 = il.prevTx, il.remoteRx
		rootDelay, rootDisp = il.rootDelay, il.rootDisp
	} else if il.prevTx.zero() {
		// chrony's test A: the reply before gave a basic sample; its
		// timestamps are not used again.
		return sample{}, false
	}
	response := math.Abs(p.Transmit.Sub(reqRx).Seconds())
	return e.measureTimes(s, t1, t2, p.Transmit, il.localRx, response, rootDelay, rootDisp, p.Precision)
}

// cookedOf is l as cooked seconds since the epoch.
func (e *Engine) cookedOf(l localTime) float64 { return e.sec(l.raw) + l.p }

// reframe re-expresses l after a clock update (see Engine.reframe).
func (l *localTime) reframe(e *Engine, now float64, act discipline.Action) {
	if l.zero() {
		return
	}
	c := e.cookedOf(*l)
	l.p += act.DOffset + act.DFreq*1e-6*(c-now) - act.Step.Seconds()
	l.raw = l.raw.Add(act.Step)
}
