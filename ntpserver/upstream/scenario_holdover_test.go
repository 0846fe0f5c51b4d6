package upstream_test

import (
	"math"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Scenario 4: every source is lost for an hour after two hours of
// synchronisation. The frequency holds (the error grows only with the
// oscillator's wander), the served root dispersion grows, and what is
// served follows chrony's rules for the local reference.
func TestHoldover(t *testing.T) {
	const outageStart, outageEnd = 2 * 3600, 3 * 3600
	local := func(s string) *config.Local {
		return parseLocal(t, s)
	}
	for _, tc := range []struct {
		name    string
		maxPoll int
		local   *config.Local
		// What is served at the end of the outage.
		stratum uint8
		leap    wire.Leap
		// When that state is first served (s after the outage began);
		// 0: the state does not change.
		changeAfter, changeBefore float64
	}{
		{
			// At maxpoll 10, 8 missed polls take over two hours: the box
			// stays synchronised all hour, its root distance growing at
			// the served rate, far from the default 1 s `distance`.
			name: "maxpoll 10 stays synchronised", maxPoll: 10,
			stratum: 2, leap: wire.LeapNone,
		},
		{
			// At maxpoll 6 the sources are unreachable after 8 polls
			// (about 10 minutes); with no local reference the box then
			// says it is unsynchronised.
			name: "no local: unsynchronised", maxPoll: 6,
			stratum: wire.MaxStratum, leap: wire.LeapUnsynchronised,
			changeAfter: 7 * 60, changeBefore: 15 * 60,
		},
		{
			name: "local stratum 10: activates when unsynchronised", maxPoll: 6,
			local:   local("stratum 10"),
			stratum: 10, leap: wire.LeapNone,
			changeAfter: 7 * 60, changeBefore: 15 * 60,
		},
		{
			// Orphan mode waits 300 s after losing synchronisation,
			// unsynchronised meanwhile.
			name: "local stratum 10 orphan: activates 300 s later", maxPoll: 6,
			local:   local("stratum 10 orphan"),
			stratum: 10, leap: wire.LeapNone,
			changeAfter: 12 * 60, changeBefore: 20 * 60,
		},
		{
			// Still synchronised at maxpoll 10, but the root distance
			// (about 0.5 ms after an update, growing at the served rate
			// of about 1 µs/s: skew, residual frequency, maxclockerror)
			// passes 2 ms about 25 minutes after the last update, which
			// may have been up to a poll interval before the outage.
			name: "local distance 0.002: activates on distance", maxPoll: 10,
			local:   local("stratum 10 distance 0.002"),
			stratum: 10, leap: wire.LeapNone,
			changeAfter: 5 * 60, changeBefore: 45 * 60,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lanSetup()
			s.source.MaxPoll = tc.maxPoll
			s.cfg.Local = tc.local
			w := newWorld(t, s)
			for _, id := range w.ids {
				w.Server(id).Up = clocktest.Outage(outageStart, outageEnd)
			}
			w.Run(outageStart * time.Second)
			synced := w.Engine.SyncState()
			if synced.Stratum != 2 || synced.Leap != wire.LeapNone {
				t.Fatalf("before the outage: %+v", synced)
			}
			e0 := w.Clock.ErrorSeconds()
			disp0 := w.Engine.Tracking().RootDispersion
			changed := 0.0
			w.Every = 10 * time.Second
			w.Observe = func(s *clocktest.Sim) {
				st := w.Engine.SyncState()
				if changed == 0 && (st.Stratum != synced.Stratum || st.Leap != synced.Leap) &&
					st.Stratum == tc.stratum && st.Leap == tc.leap {
					changed = s.Elapsed() - outageStart
				}
			}
			w.Run((outageEnd - outageStart - 10) * time.Second)
			w.Observe = nil
			st := w.Engine.SyncState()
			if st.Stratum != tc.stratum || st.Leap != tc.leap {
				t.Errorf("at the end of the outage: stratum %d leap %v, want %d %v", st.Stratum, st.Leap, tc.stratum, tc.leap)
			}
			if tc.changeAfter == 0 && changed != 0 || tc.changeAfter != 0 && (changed < tc.changeAfter || changed > tc.changeBefore) {
				t.Errorf("final state served %.0f s into the outage, want between %.0f and %.0f s", changed, tc.changeAfter, tc.changeBefore)
			}
			t.Logf("final state served from %.0f s into the outage", changed)
			if tc.local != nil && st.RefID != wire.LocalRefID {
				t.Errorf("local reference served with refid %#x", st.RefID)
			}
			drift := math.Abs(w.Clock.ErrorSeconds() - e0)
			t.Logf("clock error moved by %s in the hour without sources", us(drift))
			if drift > 1e-3 {
				t.Errorf("clock error moved by %s in an hour of holdover", us(drift))
			}
			if tc.stratum == 2 {
				// At least maxclockerror (1 µs/s), and the clock's
				// true error inside the served bound.
				disp := w.Engine.Tracking().RootDispersion
				t.Logf("root dispersion %v after an hour, was %v", disp, disp0)
				if disp < disp0+3600*time.Microsecond {
					t.Errorf("root dispersion %v after an hour, was %v: want it to grow by at least 1 µs/s", disp, disp0)
				}
				if bound := st.RootDelay/2 + disp; time.Duration(math.Abs(w.Clock.ErrorSeconds())*1e9) > bound {
					t.Errorf("clock error %s outside the served bound %v", us(w.Clock.ErrorSeconds()), bound)
				}
			}
			// The sources come back: synchronised again.
			w.Run(40 * time.Minute)
			if st := w.Engine.SyncState(); st.Stratum != 2 {
				t.Errorf("after the outage: %+v", st)
			}
		})
	}
}

// A box that has never been synchronised serves `local stratum 3` at
// stratum 10: it must not claim a low stratum.
func TestNeverSynchronisedLocalIsHighStratum(t *testing.T) {
	s := lanSetup()
	s.cfg.Local = parseLocal(t, "stratum 3")
	w := newWorld(t, s)
	for _, id := range w.ids {
		w.Server(id).Up = func(float64) bool { return false }
	}
	w.Run(time.Minute)
	if st := w.Engine.SyncState(); st.Stratum != 10 || st.RefID != wire.LocalRefID {
		t.Errorf("never synchronised: %+v, want local at stratum 10", st)
	}
	// Once synchronised, a later loss serves the configured stratum.
	for _, id := range w.ids {
		w.Server(id).Up = clocktest.Outage(3600, 1e9)
	}
	w.Run(time.Hour)
	if st := w.Engine.SyncState(); st.Stratum != 2 {
		t.Fatalf("synchronised: %+v", st)
	}
	w.Run(4 * time.Hour)
	if st := w.Engine.SyncState(); st.Stratum != 3 {
		t.Errorf("lost after being synchronised: %+v, want local stratum 3", st)
	}
}

// With no server or pool line the local clock is the intended reference:
// `local stratum 3` is served at 3 from the start, as chronyd does.
func TestLocalOnlyServesConfiguredStratum(t *testing.T) {
	w := clocktest.NewWorld(clocktest.Start, 1)
	clk := w.NewClock(clocktest.ClockConfig{})
	eng := upstream.NewEngine(upstream.Config{Local: parseLocal(t, "stratum 3"), Precision: -24}, clk, nil)
	if st := eng.SyncState(); st.Stratum != 3 || st.RefID != wire.LocalRefID || st.Leap != wire.LeapNone {
		t.Errorf("local only: %+v, want local at stratum 3", st)
	}
}
