package upstream

import (
	"testing"
	"time"
)

// The ring keeps at most HistoryCap points, dropping the oldest, and
// none more than HistoryWindow older than the newest.
func TestHistoryRingBounds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h history
	const n = HistoryCap + 904
	for i := range n {
		h.add(HistoryPoint{Time: t0.Add(time.Duration(i) * time.Second), Frequency: float64(i)})
	}
	pts := h.since(time.Time{})
	if len(pts) != HistoryCap {
		t.Fatalf("%d points, want %d", len(pts), HistoryCap)
	}
	for i, p := range pts {
		if want := float64(n - HistoryCap + i); p.Frequency != want {
			t.Fatalf("point %d is #%v, want #%v", i, p.Frequency, want)
		}
	}
	if cap(h.pts) > HistoryCap {
		t.Errorf("ring capacity %d, want at most %d", cap(h.pts), HistoryCap)
	}
	// A point a day and a minute later drops all but itself.
	late := t0.Add(time.Duration(n)*time.Second + HistoryWindow + time.Minute)
	h.add(HistoryPoint{Time: late})
	if pts := h.since(time.Time{}); len(pts) != 1 || !pts[0].Time.Equal(late) {
		t.Errorf("after a day's gap: %d points, want only the new one", len(pts))
	}
	// since leaves out what is older than its cutoff.
	h.add(HistoryPoint{Time: late.Add(time.Hour)})
	if pts := h.since(late.Add(time.Minute)); len(pts) != 1 {
		t.Errorf("since: %d points, want 1", len(pts))
	}
}
