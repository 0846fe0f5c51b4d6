package upstream

import (
	"time"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// neverSyncedLocalStratum is the lowest stratum a box that has never
// been synchronised serves its local clock at.
const neverSyncedLocalStratum = 10

// localStratum is the stratum the local reference is served at now.
func (e *Engine) localStratum() int {
	n := e.cfg.Local.Stratum
	if !e.everSynced && e.cfg.HasSources {
		n = max(n, neverSyncedLocalStratum)
	}
	return n
}

// SetHasSources tells the engine whether the config names sources now
// (see Config.HasSources): on a box, a DHCP lease can bring the first
// ones, or take the last ones away.
func (e *Engine) SetHasSources(has bool) { e.cfg.HasSources = has }

// localActive reports whether the local reference should be served at
// system clock time raw (cooked time now).
func (e *Engine) localActive(raw time.Time, now float64) bool {
	l := e.cfg.Local
	if l == nil || e.err != nil {
		return false
	}
	if l.Activate > 0 && !e.activated {
		return false
	}
	if e.synced {
		return e.rootDistance(raw) > l.Distance && now-e.ref.at >= l.WaitSynced
	}
	return now-e.unsyncedSince >= l.EffectiveWaitUnsynced()
}

// SyncState is what the NTP server should serve now: the selected
// source's view (stratum + 1, its address as reference ID, the last
// update as reference time, root delay and dispersion accumulated along
// the path), the local reference when it is active, or unsynchronised.
// After a fatal maxchange it is unsynchronised.
func (e *Engine) SyncState() ntpserver.SyncState {
	return e.syncStateAt(e.clk.Now().Round(0))
}

// syncStateAt is SyncState at system clock time raw.
func (e *Engine) syncStateAt(raw time.Time) ntpserver.SyncState {
	now := e.cooked(raw)
	prec := e.cfg.Precision
	if e.localActive(raw, now) {
		st := ntpserver.LocalClock(uint8(e.localStratum()), prec)
		if e.everSynced && e.err == nil && !e.cfg.Local.Orphan {
			// A box in holdover serves its own clock, but that clock is
			// only as good as the last synchronisation grown at the
			// dispersion rate since. chrony serves a root dispersion of
			// 0 here; ntpbox keeps the bound honest (issue 14), so that
			// clients can tell a box hours into holdover from a fresh
			// one, and drop it at their maxdistance. Not in orphan mode:
			// there the boxes agree on one of them as their reference,
			// and a follower must not turn away from a leader whose
			// distance (which activated its local reference) is large.
			st.RootDispersion = max(st.RootDispersion, durationOf(e.rootDistance(raw)))
		}
		e.cook(&st, raw)
		return st
	}
	if !e.synced || e.err != nil || e.ref.stratum+1 >= 16 {
		st := ntpserver.Unsynchronised(prec)
		e.cook(&st, raw)
		return st
	}
	// The reference time is the cooked time of the update, as the
	// timestamps the server cooks. The dispersion is given at the reference time and
	// grows at dispRate from there, as the server computes per reply.
	st := ntpserver.SyncState{
		Leap:           e.leap,
		Stratum:        uint8(e.ref.stratum + 1),
		Precision:      prec,
		RefID:          e.ref.refID,
		RefTime:        wire.TimeToNTP(e.ref.served),
		RootDelay:      durationOf(e.ref.rootDelay),
		RootDispersion: durationOf(e.ref.rootDisp),
		DispRate:       e.dispRate(),
	}
	e.cook(&st, raw)
	return st
}

// cook sets the state's correction from the system clock to the served
// (cooked) time at system clock time raw: what the servo has yet to
// correct, and how fast that changes until it next re-plans. The server
// adds it to its receive and transmit timestamps, so clients get the
// engine's best estimate of true time, not the clock halfway through a
// slew (chrony serves its cooked time too). After a fatal maxchange the
// clock is left alone, and so is the time served.
func (e *Engine) cook(st *ntpserver.SyncState, raw time.Time) {
	if e.err != nil {
		return
	}
	p, r := e.servo.Correction(raw)
	st.Correction = ntpserver.Correction{At: raw.UnixNano(), Offset: p, Rate: r}
}
