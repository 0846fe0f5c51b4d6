package upstream

import (
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// syncLoop is chrony's test D (check_sync_loop in ntp_core.c): a reply
// is not used for synchronisation when it shows that the source is
// synchronised to this box, or is this box. Following it would close a
// loop in which two servers steer each other's clocks, away from real
// time, while both claim to be synchronised. As in chrony the reply
// still counts for reachability and updates the source's stratum; it
// gives no sample, so the source drops out of the selection as its
// samples age. syncLoop records the verdict on s (shown by Sources) and
// logs the first loop of each source.
//
// chrony checks only while its server port is open (no one can be
// synchronised to a box that serves no one): here, Config.Serving.
func (e *Engine) syncLoop(s *source, p *wire.Packet, t4 time.Time) bool {
	why := e.loopReason(s, p, t4)
	s.syncLoop = why != ""
	if s.syncLoop && !s.loopLogged {
		s.loopLogged = true
		e.log.Warn("source is synchronised to this box: ignored (sync loop)", "source", s.name, "why", why,
			"stratum", p.Stratum, "refid", wire.RefIDString(p.Stratum, p.RefID))
	}
	return s.syncLoop
}

// loopReason returns why the reply p, received at system clock time t4,
// shows a loop, or "".
func (e *Engine) loopReason(s *source, p *wire.Packet, t4 time.Time) string {
	if !e.cfg.Serving {
		return ""
	}
	// (a) Its reference is our address towards it: it is synchronised
	// to us (assuming it sees us at the address we poll it from).
	// Stratum 1 reference IDs are names of reference clocks, not
	// addresses.
	if p.Stratum > 1 && s.localAddr.IsValid() && p.RefID == RefID(s.localAddr) {
		return "its reference ID is our address"
	}
	// (b) It serves exactly our reference data: it is us (say, our own
	// address under another name) or a copy of us. Besides chrony's
	// comparison with the current reference, the one before the last
	// clock update counts too: the reply may have left our server just
	// before an update that came in while it was on its way.
	//
	// chrony compares its local reference too, whose reference time it
	// moves every 64 s; ntpbox's server stamps the local reference time
	// per reply (one second before it), so serving the local clock cannot
	// be told apart from another ntpbox doing the same, and is not
	// compared. There the orphan rule (our own reference ID is never
	// smaller than itself) and (a) still hold.
	ours := e.syncStateAt(t4)
	if !ours.Synchronised() || ours.FollowsClock {
		return ""
	}
	if e.ref.servedIn(p) || e.prevRef.servedIn(p) {
		return "it serves our reference"
	}
	return ""
}

// servedIn reports whether p carries the header fields the server
// serves while r is the reference: stratum, reference ID, root delay
// (as an NTP short) and the non-zero reference time.
func (r *reference) servedIn(p *wire.Packet) bool {
	return !r.raw.IsZero() && !p.RefTime.IsZero() &&
		int(p.Stratum) == r.stratum+1 && p.RefID == r.refID &&
		p.RootDelay == wire.DurationToShort(durationOf(r.rootDelay)) &&
		p.RefTime == wire.TimeToNTP(r.served)
}
