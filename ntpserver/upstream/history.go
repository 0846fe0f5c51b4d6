package upstream

import "time"

// The clock's history: one point per clock update (and one when the
// engine loses its reference), the last 24 hours, for the status page
// and `ntpbox history`. The memory is bounded: the ring holds at most
// HistoryCap points and drops the oldest.

// HistoryWindow is how far back the history reaches.
const HistoryWindow = 24 * time.Hour

// HistoryCap is the most points the history keeps: a day of updates
// every 21 s. A box polling faster keeps a shorter history.
const HistoryCap = 4096

// HistoryPoint is the clock's state at one update.
type HistoryPoint struct {
	Time         time.Time     `json:"time"`          // the system clock at the update (after a step), UTC
	Offset       time.Duration `json:"offset"`        // the system time minus the reference's estimate (chronyc's sign)
	Frequency    float64       `json:"frequency"`     // ppm, chronyc's sign (positive: the clock runs fast)
	RootDistance time.Duration `json:"root_distance"` // root delay/2 + root dispersion, as served
	Synchronised bool          `json:"synchronised"`  // leap indicator not 3
}

// history is a ring of points, oldest first from start.
type history struct {
	pts   []HistoryPoint // len ≤ HistoryCap
	start int            // index of the oldest point once the ring is full
}

// add records p, dropping the oldest point when the ring is full and
// the points more than HistoryWindow older than p.
func (h *history) add(p HistoryPoint) {
	if len(h.pts) < HistoryCap {
		if len(h.pts) == cap(h.pts) { // grow as append would, but never past the cap
			h.pts = append(make([]HistoryPoint, 0, min(max(2*cap(h.pts), 64), HistoryCap)), h.pts...)
		}
		h.pts = append(h.pts, p)
	} else {
		h.pts[h.start] = p
		h.start = (h.start + 1) % len(h.pts)
	}
	h.trim(p.Time.Add(-HistoryWindow))
}

// trim drops the points before cutoff from the old end.
func (h *history) trim(cutoff time.Time) {
	n := 0
	for n < len(h.pts) && h.at(n).Time.Before(cutoff) {
		n++
	}
	if n == 0 {
		return
	}
	kept := make([]HistoryPoint, 0, len(h.pts)-n)
	for i := n; i < len(h.pts); i++ {
		kept = append(kept, h.at(i))
	}
	h.pts, h.start = kept, 0
}

func (h *history) at(i int) HistoryPoint { return h.pts[(h.start+i)%len(h.pts)] }

// since returns a copy of the points from cutoff on, oldest first.
func (h *history) since(cutoff time.Time) []HistoryPoint {
	out := make([]HistoryPoint, 0, len(h.pts))
	for i := range h.pts {
		if p := h.at(i); !p.Time.Before(cutoff) {
			out = append(out, p)
		}
	}
	return out
}

// History returns the clock's state at each update of the last 24 hours
// (HistoryWindow) before the clock's current time, oldest first: at most
// HistoryCap points.
func (e *Engine) History() []HistoryPoint {
	return e.hist.since(e.clk.Now().Round(0).Add(-HistoryWindow))
}

// recordUpdate adds the state after a clock update at system clock time
// raw (after any step); offset is the estimate's, true minus clock.
func (e *Engine) recordUpdate(raw time.Time, offset float64) {
	e.record(raw, -offset)
}

// recordUnsync adds a point for the reference lost at raw: served
// unsynchronised from then on, unless the local reference serves.
func (e *Engine) recordUnsync(raw time.Time) {
	e.record(raw, 0)
}

// record adds what the server serves at raw, with the offset in
// chronyc's sign (s).
func (e *Engine) record(raw time.Time, offset float64) {
	st := e.syncStateAt(raw)
	p := HistoryPoint{
		Time:         raw.UTC(),
		Offset:       durationOf(offset),
		Frequency:    e.Frequency(),
		Synchronised: st.Synchronised(),
	}
	if p.Synchronised {
		p.RootDistance = st.RootDistanceAt(st.CookTime(raw))
	}
	e.hist.add(p)
}
