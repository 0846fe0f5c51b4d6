package upstream_test

import (
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// The per-source options chrony has and ntpbox implements: noselect,
// prefer, trust, require, burst; and minsources.
func TestSourceOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		servers int
		src     func(i int, s *config.Source)
		srv     func(i int, s *clocktest.Server)
		min     int // minsources
		check   func(t *testing.T, w *world)
	}{
		{
			name: "noselect is polled, never selected", servers: 2,
			src: func(i int, s *config.Source) { s.NoSelect = i == 0 },
			check: func(t *testing.T, w *world) {
				r := w.Engine.Sources()
				if r[0].State != "?" || r[0].Selectable || r[0].Reach == 0 || r[1].State != "*" {
					t.Errorf("states %q %q, selectable %v, reach %o", r[0].State, r[1].State, r[0].Selectable, r[0].Reach)
				}
			},
		},
		{
			name: "prefer is selected over a closer source", servers: 2,
			src: func(i int, s *config.Source) { s.Prefer = i == 1 },
			srv: func(i int, s *clocktest.Server) {
				if i == 1 {
					s.RootDelay = 20 * time.Millisecond
				}
			},
			check: func(t *testing.T, w *world) {
				r := w.Engine.Sources()
				if r[1].State != "*" || r[0].State != "-" {
					t.Errorf("states %q %q, want - *", r[0].State, r[1].State)
				}
			},
		},
		{
			name: "trust outweighs a majority", servers: 3,
			src: func(i int, s *config.Source) { s.Trust = i == 0 },
			srv: func(i int, s *clocktest.Server) {
				if i > 0 {
					s.Offset = clocktest.Constant(50 * time.Millisecond)
				}
			},
			check: func(t *testing.T, w *world) {
				r := w.Engine.Sources()
				if r[0].State != "*" || r[1].State != "x" || r[2].State != "x" {
					t.Errorf("states %q %q %q, want * x x", r[0].State, r[1].State, r[2].State)
				}
				if e := w.Clock.Error(); e.Abs() > time.Millisecond {
					t.Errorf("clock error %v: followed the untrusted majority", e)
				}
			},
		},
		{
			name: "require: no update without a required source", servers: 3,
			src: func(i int, s *config.Source) { s.Require = i == 0 },
			srv: func(i int, s *clocktest.Server) {
				if i == 0 {
					s.Up = func(float64) bool { return false }
				}
			},
			check: func(t *testing.T, w *world) {
				if st := w.Engine.SyncState(); st.Leap != wire.LeapUnsynchronised {
					t.Errorf("synchronised without the required source: %+v", st)
				}
			},
		},
		{
			name: "minsources 3 with 2 sources: no update", servers: 2,
			min: 3,
			check: func(t *testing.T, w *world) {
				if st := w.Engine.SyncState(); st.Leap != wire.LeapUnsynchronised {
					t.Errorf("synchronised with 2 of minsources 3: %+v", st)
				}
				if len(w.Clock.Steps()) != 0 {
					t.Errorf("clock stepped: %v", w.Clock.Steps())
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lanSetup()
			s.servers = tc.servers
			s.cfg.MinSources = tc.min
			s.perSource = tc.src
			s.perServer = tc.srv
			w := newWorld(t, s)
			w.Run(2 * time.Hour)
			tc.check(t, w)
		})
	}
}

// burst retries a lost request 2 s later instead of waiting a whole poll
// interval: over a lossy path it gets more good samples.
func TestBurstRetriesLostRequests(t *testing.T) {
	replies := func(burst bool) int {
		s := lanSetup()
		s.servers = 1
		s.link.Loss = 0.4
		s.source.Burst = burst
		s.source.MinPoll, s.source.MaxPoll = 6, 10
		w := newWorld(t, s)
		w.Run(12 * time.Hour)
		return w.Replies
	}
	without, with := replies(false), replies(true)
	t.Logf("replies over 12 h with 40 %% loss: %d without burst, %d with", without, with)
	if with <= without {
		t.Errorf("burst got %d replies, without %d", with, without)
	}
}
