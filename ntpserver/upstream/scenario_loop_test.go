package upstream_test

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

const loopMsg = "source is synchronised to this box: ignored (sync loop)"

// simRefID is the reference ID of the simulated box's own address: what
// a server synchronised to it sends.
var simRefID = upstream.RefID(netip.MustParseAddr(clocktest.SimAddr))

// chrony's test D, case (a): a reply whose reference ID is our address
// towards the source comes from a server synchronised to us. It counts
// for reachability, gives no sample and is logged once; only while we
// serve, only above stratum 1 (stratum 1 reference IDs name clocks).
func TestSyncLoopRefIDIsOurAddress(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stratum uint8
		refID   uint32
		serving bool
		loop    bool
	}{
		{"synchronised to us", 3, simRefID, true, true},
		{"not serving: no check (chrony)", 3, simRefID, false, false},
		{"stratum 1: a clock's name", 1, simRefID, true, false},
		{"another address", 3, simRefID + 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lanSetup()
			s.servers = 1
			s.cfg.Serving = tc.serving
			s.perServer = func(_ int, srv *clocktest.Server) { srv.Stratum, srv.RefID = tc.stratum, tc.refID }
			w := newWorld(t, s)
			w.Run(30 * time.Minute)
			r := w.source(w.ids[0])
			t.Logf("state %s reach %o valid %d good %d loop %v local %v", r.State, r.Reach, r.ValidRx, r.GoodRx, r.SyncLoop, r.LocalAddr)
			if r.LocalAddr != netip.MustParseAddr(clocktest.SimAddr) {
				t.Errorf("local address %v, want %s", r.LocalAddr, clocktest.SimAddr)
			}
			if r.Reach != 0377 || r.ValidRx == 0 {
				t.Errorf("reach %o, %d valid replies: a loop is still reachable", r.Reach, r.ValidRx)
			}
			st := w.Engine.SyncState()
			if !tc.loop {
				if r.SyncLoop || r.GoodRx == 0 || st.Stratum != tc.stratum+1 {
					t.Errorf("loop %v, %d good replies, serving %s: want synchronised to it", r.SyncLoop, r.GoodRx, describe(st))
				}
				return
			}
			if !r.SyncLoop || r.GoodRx != 0 || r.NP != 0 || r.State != "?" {
				t.Errorf("loop %v, %d good replies, %d samples, state %q: want a loop, no samples", r.SyncLoop, r.GoodRx, r.NP, r.State)
			}
			if st.Leap != wire.LeapUnsynchronised {
				t.Errorf("synchronised to a source synchronised to us: %s", describe(st))
			}
			if n := w.logs.count(loopMsg); n != 1 {
				t.Errorf("loop logged %d times in %d replies, want once", n, r.ValidRx)
			}
		})
	}
}

// A source that becomes synchronised to us stops giving samples; when it
// returns to another reference, it gives samples again.
func TestSyncLoopComesAndGoes(t *testing.T) {
	s := lanSetup()
	s.servers = 1
	s.cfg.Serving = true
	s.source.MinPoll, s.source.MaxPoll = 4, 4
	s.perServer = func(_ int, srv *clocktest.Server) { srv.Stratum, srv.RefID = 2, 0xC6120001 }
	w := newWorld(t, s)
	w.Run(30 * time.Minute)
	srv := w.Server(w.ids[0])
	before := w.source(w.ids[0])
	if before.SyncLoop || before.GoodRx == 0 {
		t.Fatalf("before: %+v", before)
	}
	srv.RefID = simRefID
	w.Run(30 * time.Minute)
	during := w.source(w.ids[0])
	if !during.SyncLoop || during.GoodRx > before.GoodRx+1 || during.Reach != 0377 {
		t.Errorf("during the loop: loop %v, good %d -> %d, reach %o", during.SyncLoop, before.GoodRx, during.GoodRx, during.Reach)
	}
	srv.RefID = 0xC6120001
	w.Run(30 * time.Minute)
	after := w.source(w.ids[0])
	if after.SyncLoop || after.GoodRx < during.GoodRx+50 {
		t.Errorf("after the loop: loop %v, good %d -> %d", after.SyncLoop, during.GoodRx, after.GoodRx)
	}
	if st := w.Engine.SyncState(); st.Stratum != 3 {
		t.Errorf("after the loop: serving %s", describe(st))
	}
	if n := w.logs.count(loopMsg); n != 1 {
		t.Errorf("loop logged %d times, want once", n)
	}
}

// chrony's test D, case (b): a source that serves exactly our reference
// (stratum, reference ID, root delay and reference time) is us, here a
// box polling its own address. Its replies never give a sample.
func TestSyncLoopPollingOurselves(t *testing.T) {
	w := clocktest.NewWorld(clocktest.Start, 1)
	n := clocktest.NewNet(w)
	clk := w.NewClock(clocktest.ClockConfig{Offset: 20 * time.Millisecond, FreqErr: 20, Wander: 0.001})
	logs := newRecorder(0)
	eng := upstream.NewEngine(upstream.Config{ClockControl: true, Precision: -24, HasSources: true, Serving: true}, clk, slog.New(logs))
	box := n.AddBox("198.18.0.11", clk, eng)
	src := config.Source{IBurst: true, MinPoll: 0, MaxPoll: 2, Port: 123}
	box.AddServer(clocktest.NewServer("198.18.0.1:123"), clocktest.LAN, src)
	box.AddBox(box, clocktest.LAN, src)
	n.Run(time.Hour)
	r := eng.Sources()
	t.Logf("upstream %s good %d; self %s reach %o valid %d good %d loop %v", r[0].State, r[0].GoodRx, r[1].State, r[1].Reach, r[1].ValidRx, r[1].GoodRx, r[1].SyncLoop)
	if st := eng.SyncState(); st.Stratum != 2 || st.RefID != 0xC6120001 {
		t.Errorf("serving %s, want stratum 2 from the upstream", describe(st))
	}
	// Before the first clock update the box served "unsynchronised":
	// no sample from that either.
	if !r[1].SyncLoop || r[1].GoodRx != 0 || r[1].State != "?" {
		t.Errorf("own address: loop %v, %d samples, state %q", r[1].SyncLoop, r[1].GoodRx, r[1].State)
	}
	if n := logs.count(loopMsg); n != 1 {
		t.Errorf("loop logged %d times, want once", n)
	}
}
