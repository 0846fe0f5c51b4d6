package upstream

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Offsets in reports follow chronyc: positive means the local clock is
// ahead of the source (the opposite sign of the engine's internal
// "source minus clock").

// Sources returns the `sources` and `sourcestats` lines, at the clock's
// current time, in the order the sources were added.
func (e *Engine) Sources() []SourceReport {
	raw := e.clk.Now().Round(0)
	now := e.cooked(raw)
	out := make([]SourceReport, 0, len(e.sources))
	for _, s := range e.sources {
		r := SourceReport{
			Name:       s.name,
			Addr:       s.addr,
			Mode:       "^",
			State:      s.state,
			Stratum:    s.stratum,
			Poll:       s.poll,
			Reach:      s.reach,
			LastRx:     -1,
			KissCode:   s.kiss,
			Selectable: !s.cfg.NoSelect && !s.stopped && s.addr.IsValid(),
			Burst:      s.burstMode && s.burstTotal > 0,
			NP:         len(s.stats.window()),
			NR:         s.stats.runs,
			Span:       durationOf(s.stats.span()),
			LocalAddr:  s.localAddr,
			SyncLoop:   s.syncLoop,
			ValidRx:    s.validRx,
			GoodRx:     s.goodRx,
			NTP:        ntpData(s, raw),
		}
		if n := s.stats.newest(); n != nil {
			r.LastRx = durationOf(now - s.lastRx)
			r.AdjustedOffset = durationOf(-n.offset)
			r.MeasuredOffset = durationOf(-n.measured)
			r.ErrorBound = durationOf(n.rootDelay/2 + n.rootDisp + n.delay/2 + n.disp)
			off, sd := s.stats.predict(now)
			r.Offset = durationOf(-off)
			r.OffsetErr = durationOf(sd)
			r.StdDev = durationOf(s.stats.sd)
		}
		if s.stats.ok {
			r.Frequency = -s.stats.slope * 1e6
			r.FreqSkew = s.stats.skew * 1e6
		}
		out = append(out, r)
	}
	return out
}

// ntpData is the ntpdata part of a source's report; the reference time
// is read in the NTP era of pivot.
func ntpData(s *source, pivot time.Time) NTPData {
	p := &s.lastPkt
	d := NTPData{TotalTx: s.txCount}
	if s.validRx == 0 {
		return d
	}
	d.Leap, d.Version, d.Mode, d.Stratum = int(p.Leap), int(p.Version), int(p.Mode), int(p.Stratum)
	d.Poll, d.Precision = int(p.Poll), int(p.Precision)
	d.RootDelay, d.RootDispersion = p.RootDelay.Duration(), p.RootDispersion.Duration()
	d.RefID = p.RefID
	if !p.RefTime.IsZero() {
		d.RefTime = p.RefTime.Time(pivot).UTC()
	}
	d.Offset = durationOf(s.lastMeas.measured)
	d.Delay = durationOf(s.lastMeas.delay)
	d.Dispersion = durationOf(s.lastMeas.disp)
	d.Interleaved = s.il.last
	switch {
	case s.il.last:
		// Interleaved: the reply's transmit time is of the reply
		// before, which answered the request received at remoteRx
		// then (chrony's remote_request_receive).
		d.ResponseTime = durationOf(s.il.response)
	case !p.Receive.IsZero() && !p.Transmit.IsZero():
		d.ResponseTime = p.Transmit.Sub(p.Receive)
	}
	return d
}

// Tracking returns the `tracking` report at the clock's current time.
func (e *Engine) Tracking() TrackingReport {
	raw := e.clk.Now().Round(0)
	now := e.cooked(raw)
	r := TrackingReport{
		SystemTime:     durationOf(-e.servo.Pending(raw)),
		LastOffset:     durationOf(-e.lastOffset),
		RMSOffset:      durationOf(e.rmsOffset),
		Frequency:      e.Frequency(),
		ResidualFreq:   -e.residual,
		Skew:           e.servo.Skew(),
		UpdateInterval: durationOf(e.interval),
		Leap:           "Not synchronised",
		ClockControl:   e.cfg.ClockControl,
	}
	switch {
	case e.localActive(raw, now):
		r.RefID = wire.LocalRefID
		r.Stratum = e.localStratum()
		r.RefTime = raw.Add(-time.Second).UTC()
		r.RootDispersion = precisionDuration(e.cfg.Precision)
		r.Leap = "Normal"
	case e.synced && e.err == nil:
		r.RefID = e.ref.refID
		r.RefName = e.ref.name
		r.Stratum = e.ref.stratum + 1
		r.RefTime = e.ref.raw.UTC()
		r.RootDelay = durationOf(e.ref.rootDelay)
		r.RootDispersion = durationOf(e.rootDispAt(raw))
		r.RememberedJump = e.wanderAt(e.ref.at)
		r.Leap = leapName(e.leap)
	}
	return r
}

func leapName(l wire.Leap) string {
	switch l {
	case wire.LeapInsert:
		return "Insert second"
	case wire.LeapDelete:
		return "Delete second"
	case wire.LeapNone:
		return "Normal"
	}
	return "Not synchronised"
}

func precisionDuration(p int8) time.Duration {
	return durationOf(math.Ldexp(1, int(p)))
}
