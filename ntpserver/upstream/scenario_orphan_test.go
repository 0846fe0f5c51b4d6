package upstream_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// chrony's orphan rule (sources.c), on one box at 198.18.0.100 with
// `local stratum 10 orphan`: sources at stratum 10 or above are set
// aside; with nothing else selectable, the reachable stratum-10 source
// with the smallest address is followed if that address is below ours
// towards it.
func TestOrphanRule(t *testing.T) {
	orphan := func(addr string, stratum uint8) func(*clocktest.Server) {
		return func(s *clocktest.Server) {
			s.Addr = netip.MustParseAddrPort(addr + ":123")
			s.Stratum, s.RefID = stratum, wire.LocalRefID
		}
	}
	for _, tc := range []struct {
		name    string
		servers []func(*clocktest.Server)
		noAddr  bool   // the kernel does not say our local address
		serves  string // after an hour
		states  string // the sources' state column
	}{
		{
			name:    "lower address: followed",
			servers: []func(*clocktest.Server){orphan("198.18.0.50", 10)},
			serves:  "stratum 11 refid 198.18.0.50", states: "*",
		},
		{
			name:    "higher address: not followed, local",
			servers: []func(*clocktest.Server){orphan("198.18.0.150", 10)},
			serves:  "stratum 10 refid 127.127.1.1", states: "?",
		},
		{
			name:    "the smallest of two lower ones",
			servers: []func(*clocktest.Server){orphan("198.18.0.60", 10), orphan("198.18.0.50", 10)},
			serves:  "stratum 11 refid 198.18.0.50", states: "?*",
		},
		{
			name:    "above the orphan stratum: never",
			servers: []func(*clocktest.Server){orphan("198.18.0.50", 11)},
			serves:  "stratum 10 refid 127.127.1.1", states: "?",
		},
		{
			name:    "a real source wins",
			servers: []func(*clocktest.Server){orphan("198.18.0.50", 10), func(s *clocktest.Server) { s.Stratum = 3 }},
			serves:  "stratum 4 refid 198.18.0.2", states: "?*",
		},
		{
			name:    "our address unknown: not followed",
			servers: []func(*clocktest.Server){orphan("198.18.0.50", 10)},
			noAddr:  true,
			serves:  "stratum 10 refid 127.127.1.1", states: "?",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lanSetup()
			s.servers = len(tc.servers)
			s.cfg.Local = parseLocal(t, "stratum 10 orphan")
			s.cfg.Serving = true
			s.perServer = func(i int, srv *clocktest.Server) { tc.servers[i](srv) }
			w := newWorld(t, s)
			if tc.noAddr {
				w.Box.Addr = netip.Addr{}
			}
			w.Run(time.Hour)
			if got := describe(w.Engine.SyncState()); got != tc.serves {
				t.Errorf("serves %s, want %s", got, tc.serves)
			}
			states := ""
			for _, r := range w.Engine.Sources() {
				states += r.State
			}
			if states != tc.states {
				t.Errorf("states %q, want %q", states, tc.states)
			}
			if n := w.logs.count("orphan mode: local address towards the source unknown"); tc.noAddr != (n == 1) {
				t.Errorf("logged the unknown local address %d times", n)
			}
		})
	}
}

// failoverLocal is the `local` line with which two boxes that poll each
// other every 1–4 s (minpoll 0, maxpoll 2) agree on an orphan leader
// within 5 minutes of losing their upstream. See TestOrphanBakedConfig
// for why the baked `local stratum 10 orphan` takes hours: each box
// keeps its dead upstream selected, and one follows the other, until
// the root distance reaches 1 s. `distance 0 waitsynced 60` makes the
// local reference take over 60 s after the last clock update instead
// (chrony.conf(5): waitsynced must exceed the longest poll interval,
// here 4 s); `waitunsynced 30` shortens the wait of a box whose
// selection failed from orphan mode's 300 s.
//
// In 200 simulated fail-overs (seeds 1–100, clocks swapped or not) the
// LAN settled after a median 93 s, p90 154 s, max 242 s; with
// waitunsynced left at 300: median 363 s, max 506 s; with 60: median
// 123 s, max 319 s; with 0 (chrony 4.3): median 62 s, max 203 s.
const failoverLocal = "stratum 10 orphan distance 0 waitsynced 60 waitunsynced 30"

// Two boxes synchronised to a shared upstream lose it. Within 5 minutes
// they agree on one leader, the lower address serving its local clock
// at stratum 10 (LOCL), the other following it at stratum 11, and then
// serve the same time (within 1 ms) for an hour. At no time do they
// follow each other.
func TestOrphanFailover(t *testing.T) {
	const outage = 2 * 3600.0
	for seed := uint64(1); seed <= 4; seed++ {
		for _, swap := range []bool{false, true} {
			name := fmt.Sprintf("seed %d", seed)
			if swap {
				name += " clocks swapped"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				boxes := twoBoxes()
				if swap {
					boxes[0], boxes[1] = boxes[1], boxes[0]
				}
				n := newOrphanLAN(t, orphanSetup{seed: seed, local: failoverLocal, minPoll: 0, maxPoll: 2, boxes: boxes})
				n.up.Up = clocktest.Outage(outage, 1e12)
				tl := newTimeline(outage)
				loops, maxSpread := 0, 0.0
				n.Every = time.Second
				n.Observe = func(*clocktest.Net) {
					tl.record(n)
					if n.mutual() {
						loops++
					}
				}
				n.Run(outage*time.Second + 5*time.Minute)
				if got := describe(n.boxes[0].served()); got != "stratum 10 refid 127.127.1.1" {
					t.Errorf("the lower address serves %s 5 min after the outage", got)
				}
				if got := describe(n.boxes[1].served()); got != "stratum 11 refid 198.18.0.11" {
					t.Errorf("the higher address serves %s 5 min after the outage", got)
				}
				settled, changes := tl.changed, len(tl.entries)
				n.Observe = func(*clocktest.Net) {
					tl.record(n)
					maxSpread = max(maxSpread, n.spread())
					if n.mutual() {
						loops++
					}
				}
				n.Run(time.Hour)
				t.Logf("settled %.0f s after the outage; then an hour within %s\n%s", settled, us(maxSpread), tl.since(-1))
				if maxSpread >= 1e-3 {
					t.Errorf("served times %s apart", us(maxSpread))
				}
				if tl.changed != settled {
					t.Errorf("the served state changed again after %.0f s:\n%s", settled, strings.Join(tl.entries[changes:], "\n"))
				}
				if loops > 0 {
					t.Errorf("the boxes followed each other for %d s", loops)
				}
			})
		}
	}
}

// The baked `local stratum 10 orphan` with chrony's rules, at the
// fail-over test's polls and at the defaults. When the upstream dies,
// it turns unreachable after 8 polls, but stays selectable (chrony:
// reachability is not required while its newest sample is not older
// than the oldest one of a reachable source, and the other box is
// reachable). The box whose upstream is first set aside follows the
// other (stratum 3), whose replies then show a loop (test D): the
// other box gets no new samples from it, so it keeps its dead upstream
// selected and serves stratum 2 with a root dispersion growing at the
// rate it serves (its skew, residual frequency and maxclockerror, about
// 1 µs/s: chrony's, not RFC 5905's fixed 15). Both serve the same time.
// Only when that box's root distance reaches `distance` (1 s), about ten
// days later, does the local reference take over, and the orphan rule
// picks the lower address.
func TestOrphanBakedConfig(t *testing.T) {
	const outage = 3600.0
	for _, tc := range []struct {
		name             string
		minPoll, maxPoll int
		follow           float64 // s after the outage: one box follows the other by then
	}{
		{"polls 0..2", 0, 2, 300},
		{"polls 6..10", 6, 10, 3600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newOrphanLAN(t, orphanSetup{seed: 1, local: "stratum 10 orphan", minPoll: tc.minPoll, maxPoll: tc.maxPoll, boxes: twoBoxes()})
			n.up.Up = clocktest.Outage(outage, 1e12)
			tl := newTimeline(outage)
			loops, maxSpread := 0, 0.0
			n.Every = time.Second
			n.Observe = func(*clocktest.Net) {
				tl.record(n)
				if n.mutual() {
					loops++
				}
				if n.Elapsed() > outage {
					maxSpread = max(maxSpread, n.spread())
				}
			}
			n.Run(outage*time.Second + time.Duration(tc.follow)*time.Second)
			chain := n.follows(n.boxes[0]) != nil || n.follows(n.boxes[1]) != nil
			// The box still on its dead upstream: when its served root
			// distance, growing at the rate it serves, reaches 1 s.
			var lead *lanBox
			for _, b := range n.boxes {
				if st := b.served(); st.Stratum == 2 {
					lead = b
				}
			}
			if lead == nil || lead.served().DispRate <= 0 {
				t.Fatalf("no box serves stratum 2 with a growing dispersion")
			}
			st := lead.served()
			d0 := st.RootDelay.Seconds()/2 + st.RootDispersion.Seconds()
			refAge := wire.TimeToNTP(lead.Clock.Now()).Sub(st.RefTime).Seconds()
			left := (1-d0)/st.DispRate - refAge
			reach := n.Elapsed() - outage + left
			t.Logf("%s: root distance %.3f ms at the reference, growing %.3f µs/s: 1 s %.1f h after the outage",
				lead.name, d0*1e3, st.DispRate*1e6, reach/3600)
			n.Run(time.Duration((left + 3600) * float64(time.Second)))
			t.Logf("after the outage, served times within %s; timeline:\n%s", us(maxSpread), tl.since(0))
			if !chain {
				t.Errorf("%.0f s after the outage neither box follows the other", tc.follow)
			}
			if loops > 0 {
				t.Errorf("the boxes followed each other for %d s", loops)
			}
			if maxSpread >= 1e-3 {
				t.Errorf("served times %s apart", us(maxSpread))
			}
			if got := describe(n.boxes[0].served()); got != "stratum 10 refid 127.127.1.1" {
				t.Errorf("an hour later the lower address serves %s", got)
			}
			if got := describe(n.boxes[1].served()); got != "stratum 11 refid 198.18.0.11" {
				t.Errorf("an hour later the higher address serves %s", got)
			}
			if tl.changed < reach-2*3600 {
				t.Errorf("the orphan state came %.0f s after the outage; want after the root distance reached 1 s", tl.changed)
			}
		})
	}
}

// Without the sync-loop check (here: neither box serves, as chrony skips
// the check then) the boxes that lost their upstream follow each other,
// each one stratum above the other, until the strata reach the orphan
// stratum. The check is what prevents that.
func TestSyncLoopCheckPreventsMutualFollowing(t *testing.T) {
	const outage = 3600.0
	for _, serving := range []bool{false, true} {
		n := newOrphanLAN(t, orphanSetup{seed: 1, local: "stratum 10 orphan", minPoll: 0, maxPoll: 2, boxes: twoBoxes(), notServing: !serving})
		n.up.Up = clocktest.Outage(outage, 1e12)
		loops, maxStratum := 0, uint8(0)
		n.Every = time.Second
		n.Observe = func(*clocktest.Net) {
			if n.mutual() {
				loops++
			}
			for _, b := range n.boxes {
				if st := b.served(); st.RefID != wire.LocalRefID && st.Synchronised() {
					maxStratum = max(maxStratum, st.Stratum)
				}
			}
		}
		n.Run(outage*time.Second + time.Hour)
		t.Logf("check on: %v; followed each other for %d s; highest stratum %d", serving, loops, maxStratum)
		if serving && (loops != 0 || maxStratum > 3) {
			t.Errorf("with the check: a loop for %d s, stratum up to %d", loops, maxStratum)
		}
		if !serving && loops == 0 {
			t.Errorf("without the check no loop formed: the scenario no longer shows what the check prevents")
		}
	}
}

// A box that already serves its local clock (its reference grew older
// than waitsynced) keeps serving it when its selection then fails. The
// orphan VM test once saw the leader drop an old selection (a source
// followed on samples from before the outage, that then went to the
// orphan stratum) and, as chrony would, restart the waitunsynced wait:
// it served "unsynchronised" for 30 s, and its follower lost its
// source.
func TestLocalStaysServedWhenSelectionFails(t *testing.T) {
	s := lanSetup()
	s.servers = 2
	s.cfg.Local = parseLocal(t, failoverLocal)
	s.cfg.Serving = true
	s.source.MinPoll, s.source.MaxPoll = 0, 2
	s.perServer = func(i int, srv *clocktest.Server) {
		if i == 1 { // the other box, following another upstream
			srv.Stratum, srv.RefID = 3, 0xC6120063
		}
	}
	w := newWorld(t, s)
	w.Run(10 * time.Minute)
	up, other := w.Server(w.ids[0]), w.Server(w.ids[1])
	// The upstream is gone (here: it refuses us, which takes it out of
	// the selection at once); the other box now follows us, so its
	// replies give no samples, but it stays selectable on its older ones
	// and is selected.
	up.Kiss = func(float64) string { return "DENY" }
	other.Stratum, other.RefID = 4, simRefID
	local := "stratum 10 refid 127.127.1.1"
	var sawLocal bool
	for i := 0; i < 200; i++ {
		w.Run(time.Second)
		got := describe(w.Engine.SyncState())
		if i == 100 {
			// The other box, unsynchronised too, goes to orphan stratum 11.
			if !sawLocal {
				t.Fatalf("after 100 s: serving %s, want the local reference", got)
			}
			other.Stratum = 11
		}
		switch {
		case got == local:
			sawLocal = true
		case sawLocal:
			t.Fatalf("+%d s: serving %s after serving the local reference; sources %+v", i, got, w.Engine.Sources())
		}
	}
	if !sawLocal {
		t.Fatalf("never served the local reference")
	}
	if n := w.logs.count("can't synchronise"); n == 0 {
		t.Errorf("the selection never failed: the scenario does not show the case")
	}
}
