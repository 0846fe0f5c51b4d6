package upstream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Scenario 5: a leap second announced by a majority of the sources is
// served and handed to the kernel; one source alone is outvoted.
func TestLeapSecondMajority(t *testing.T) {
	insert := func(float64) wire.Leap { return wire.LeapInsert }
	for _, tc := range []struct {
		name      string
		start     time.Time
		announce  int
		want      wire.Leap
		wantClock clock.Leap
	}{
		{"two of three on 30 June", clocktest.Start, 2, wire.LeapInsert, clock.LeapInsert},
		{"one of three is outvoted", clocktest.Start, 1, wire.LeapNone, clock.LeapNone},
		{"three of three, but not the last day of a month", clocktest.Start.AddDate(0, 0, -2), 3, wire.LeapNone, clock.LeapNone},
		{"three of three on 31 December", time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), 3, wire.LeapInsert, clock.LeapInsert},
		{"three of three on 31 March: not a leap second day", time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), 3, wire.LeapNone, clock.LeapNone},
		{"three of three on 30 November: not a leap second day", time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), 3, wire.LeapNone, clock.LeapNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lanSetup()
			s.start = tc.start
			s.cfg.RTCSync = true
			w := newWorld(t, s)
			for _, id := range w.ids[:tc.announce] {
				w.Server(id).Leap = insert
			}
			w.Run(2 * time.Hour)
			if got := w.Engine.SyncState().Leap; got != tc.want {
				t.Errorf("served leap %v, want %v", got, tc.want)
			}
			st, ok := w.Clock.Status()
			if !ok || st.Leap != tc.wantClock || !st.Synced {
				t.Errorf("clock status %+v (set %v), want leap %v, synced (rtcsync)", st, ok, tc.wantClock)
			}
		})
	}
}

// Without rtcsync the kernel keeps its unsynchronised status, so Linux's
// 11-minute mode leaves the RTC alone.
func TestKernelStatusWithoutRTCSync(t *testing.T) {
	w := newWorld(t, lanSetup())
	w.Run(time.Hour)
	st, ok := w.Clock.Status()
	if !ok || st.Synced {
		t.Errorf("clock status %+v (set %v), want unsynchronised without rtcsync", st, ok)
	}
	if st.MaxError <= 0 || st.MaxError > time.Second {
		t.Errorf("maxerror %v", st.MaxError)
	}
}

// Scenario 6: a RATE kiss makes the engine poll less often; DENY stops
// polling the source for good and marks it unselectable.
func TestKissOfDeath(t *testing.T) {
	t.Run("RATE", func(t *testing.T) {
		w := newWorld(t, lanSetup())
		id := w.ids[0]
		w.Run(10 * time.Minute)
		before := w.source(id).Poll
		w.Server(id).Kiss = func(float64) string { return "RATE" }
		reqs := w.Requests
		w.Run(20 * time.Minute)
		r := w.source(id)
		if r.Poll <= before || r.KissCode != "RATE" {
			t.Errorf("after RATE: poll %d (was %d), kiss %q", r.Poll, before, r.KissCode)
		}
		t.Logf("poll %d -> %d; %d requests in 20 min", before, r.Poll, w.Requests-reqs)
	})
	t.Run("DENY", func(t *testing.T) {
		s := lanSetup()
		s.source.Pool = true
		s.source.MaxSources = 4
		w := newWorld(t, s)
		id := w.ids[0]
		w.Run(10 * time.Minute)
		w.Server(id).Kiss = func(float64) string { return "DENY" }
		w.Run(30 * time.Minute)
		sent := w.Requests
		w.Run(2 * time.Hour)
		r := w.source(id)
		if r.KissCode != "DENY" || r.Selectable || r.State != "?" {
			t.Errorf("after DENY: %+v", r)
		}
		// Only the two other sources are polled: at most one request
		// each per 64 s.
		if n := w.Requests - sent; n > 2*2*3600/64 {
			t.Errorf("%d requests in 2 h with one source denied", n)
		}
		if _, _, ok := w.Engine.NextPoll(); !ok {
			t.Fatal("no more polls at all")
		}
		if un := w.Engine.Refused(); !slices.Contains(un, id) {
			t.Errorf("Refused() = %v, want the denied pool member %v", un, id)
		}
		if un := w.Engine.Unreachable(); slices.Contains(un, id) {
			t.Errorf("Unreachable() = %v: the denied pool member %v is refused, not unreachable", un, id)
		}
		if st := w.Engine.SyncState(); st.Stratum != 2 {
			t.Errorf("still synchronised to the others? %+v", st)
		}
	})
}

// A source that stops answering is listed by Unreachable after 8 polls;
// the runner replaces it (RemoveSource, AddSource) and the engine
// carries on.
func TestUnreachableAndReplace(t *testing.T) {
	w := newWorld(t, lanSetup())
	dead := w.ids[2]
	w.Server(dead).Up = clocktest.Outage(1800, 1e9)
	w.Run(30 * time.Minute)
	if un := w.Engine.Unreachable(); len(un) != 0 {
		t.Fatalf("Unreachable() = %v before the outage", un)
	}
	w.Run(4 * time.Hour)
	un := w.Engine.Unreachable()
	if !slices.Equal(un, []upstream.SourceID{dead}) {
		t.Fatalf("Unreachable() = %v, want [%v]", un, dead)
	}
	if r := w.source(dead); r.Reach != 0 || r.State != "?" {
		t.Errorf("dead source: reach %o state %q", r.Reach, r.State)
	}
	w.Engine.RemoveSource(dead)
	if n := len(w.Engine.Sources()); n != 2 {
		t.Fatalf("%d sources after RemoveSource", n)
	}
	if st := w.Engine.SyncState(); st.Stratum != 2 {
		t.Errorf("after removing the dead source: %+v", st)
	}
	w.Run(time.Hour)
	if e := w.Clock.Error(); e.Abs() > 100*time.Microsecond {
		t.Errorf("clock error %v", e)
	}
}

// -x: with a NoControl clock and ClockControl false the engine never
// touches the clock, yet tracks its error and serves a synchronised
// state.
func TestNoClockControl(t *testing.T) {
	s := lanSetup()
	s.noctl = true
	s.cfg.ClockControl = false
	s.clock.Offset = 20 * time.Millisecond
	s.clock.FreqErr = 30
	w := newWorld(t, s)
	w.Run(2 * time.Hour)
	if len(w.Clock.Steps()) != 0 || w.Clock.FrequencySets() != 0 {
		t.Fatalf("clock touched: steps %v, %d frequency sets", w.Clock.Steps(), w.Clock.FrequencySets())
	}
	if _, ok := w.Clock.Status(); ok {
		t.Error("kernel status set under -x")
	}
	tr := w.Engine.Tracking()
	if tr.ClockControl {
		t.Error("tracking says the clock is controlled")
	}
	// The engine knows how far off the uncorrected clock is.
	if d := tr.SystemTime - w.Clock.Error(); d.Abs() > 200*time.Microsecond {
		t.Errorf("tracking system time %v, clock error %v", tr.SystemTime, w.Clock.Error())
	}
	if f := w.Engine.Frequency(); f < 29.9 || f > 30.1 {
		t.Errorf("estimated frequency %.3f ppm, clock is 30 ppm fast", f)
	}
	if st := w.Engine.SyncState(); st.Stratum != 2 {
		t.Errorf("served %+v", st)
	}
}

// The ntpdata part of the sources report follows each source's last
// reply: its header, the measurement, and the requests sent.
func TestReportNTPData(t *testing.T) {
	w := newWorld(t, lanSetup())
	w.Run(10 * time.Minute)
	srcs := w.Engine.Sources()
	if len(srcs) == 0 {
		t.Fatal("no sources")
	}
	for _, r := range srcs {
		n := r.NTP
		if n.Version != 4 || n.Mode != int(wire.ModeServer) || n.Stratum != r.Stratum || n.Leap != int(wire.LeapNone) {
			t.Errorf("%s: header %+v, want version 4, mode 4, stratum %d, leap 0", r.Name, n, r.Stratum)
		}
		if n.TotalTx < r.ValidRx || r.ValidRx < r.GoodRx || r.GoodRx == 0 {
			t.Errorf("%s: tx %d, valid rx %d, good rx %d: want tx >= valid >= good > 0", r.Name, n.TotalTx, r.ValidRx, r.GoodRx)
		}
		if n.Delay <= 0 || n.Dispersion <= 0 || n.RefTime.IsZero() {
			t.Errorf("%s: delay %v, dispersion %v, ref time %v: want all set", r.Name, n.Delay, n.Dispersion, n.RefTime)
		}
		if d := n.Offset + r.MeasuredOffset; d < -time.Microsecond || d > time.Microsecond {
			// The last reply gave the last sample (no filter option);
			// ntpdata's sign is the opposite of sources', as in chronyd.
			t.Errorf("%s: ntpdata offset %v, sources' measured offset %v: want opposite", r.Name, n.Offset, r.MeasuredOffset)
		}
	}
}
