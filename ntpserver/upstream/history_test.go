package upstream_test

import (
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The history has one point per clock update of the simulated box: the
// first shows the clock's 0.5 s lead, the frequency converges on the
// oscillator's 100 ppm, an outage shows as an unsynchronised point, and
// after 27 hours the points older than 24 hours are gone.
func TestHistoryFollowsUpdates(t *testing.T) {
	s := lanSetup()
	s.source.MaxPoll = 6 // sources unreachable 10 minutes into an outage
	w := newWorld(t, s)
	const outageStart, outageEnd = 2 * 3600, 3 * 3600
	for _, id := range w.ids {
		w.Server(id).Up = clocktest.Outage(outageStart, outageEnd)
	}
	if h := w.Engine.History(); len(h) != 0 {
		t.Fatalf("history before any update: %d points", len(h))
	}
	w.Run(time.Hour)
	h := w.Engine.History()
	if len(h) < 20 {
		t.Fatalf("%d points after an hour at poll 6 with 3 sources, want at least 20", len(h))
	}
	first := h[0]
	if !first.Synchronised || first.Offset < 400*time.Millisecond || first.Offset > 600*time.Millisecond {
		t.Errorf("first point %+v: want synchronised, the clock 0.5 s ahead (positive offset)", first)
	}
	if d := first.Time.Sub(clocktest.Start); d < 0 || d > time.Minute {
		t.Errorf("first point at %v, %v after the start: want within a minute (iburst)", first.Time, d)
	}
	last := h[len(h)-1]
	if last.Frequency < 90 || last.Frequency > 110 {
		t.Errorf("last point's frequency %.2f ppm, want about 100 (the oscillator's error, chronyc's sign)", last.Frequency)
	}
	if last.RootDistance <= 0 || last.RootDistance > 10*time.Millisecond {
		t.Errorf("last point's root distance %v, want a LAN's (0 < d ≤ 10 ms)", last.RootDistance)
	}
	if tr := w.Engine.Tracking(); last.Offset != tr.LastOffset {
		t.Errorf("last point's offset %v, tracking's last offset %v: want the same", last.Offset, tr.LastOffset)
	}
	for i := 1; i < len(h); i++ {
		if h[i].Time.Before(h[i-1].Time) {
			t.Fatalf("point %d at %v before point %d at %v", i, h[i].Time, i-1, h[i-1].Time)
		}
	}

	w.Run(outageEnd*time.Second - time.Hour)
	unsynced := 0
	for _, p := range w.Engine.History() {
		if !p.Synchronised {
			unsynced++
			if d := p.Time.Sub(clocktest.Start); d < outageStart*time.Second || d > outageEnd*time.Second {
				t.Errorf("unsynchronised point %v after the start, outside the outage", d)
			}
		}
	}
	if unsynced != 1 {
		t.Errorf("%d unsynchronised points, want 1 (the reference lost in the outage)", unsynced)
	}

	w.Run(24 * time.Hour)
	now := w.Clock.Now()
	h = w.Engine.History()
	if len(h) == 0 || len(h) > upstream.HistoryCap {
		t.Fatalf("%d points after 27 hours, want 1..%d", len(h), upstream.HistoryCap)
	}
	if age := now.Sub(h[0].Time); age > upstream.HistoryWindow {
		t.Errorf("oldest point is %v old, want at most 24 h", age)
	}
	if age := now.Sub(h[0].Time); age < upstream.HistoryWindow-10*time.Minute {
		t.Errorf("oldest point is %v old: points within 24 h were dropped", age)
	}
	for _, p := range h {
		if !p.Synchronised {
			t.Errorf("the outage's point (%v after the start) is still there after 27 hours", p.Time.Sub(clocktest.Start))
		}
	}
	if age := now.Sub(h[len(h)-1].Time); age > 2*time.Minute {
		t.Errorf("newest point is %v old at poll 6", age)
	}
	t.Logf("%d points over the last 24 h", len(h))
}
