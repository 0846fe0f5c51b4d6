package upstream_test

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// orphanLAN is a LAN of ntpboxes that poll a shared upstream server and
// each other, as boxes do whose DHCP option 42 names all of them.
type orphanLAN struct {
	*clocktest.Net
	up    *clocktest.Server
	ups   []*clocktest.Server // with orphanSetup.ownUpstreams: box i's upstream
	boxes []*lanBox
}

type lanBox struct {
	*clocktest.Box
	name  string // box0, box1, ...
	logs  *recorder
	upID  upstream.SourceID
	peers map[*lanBox]upstream.SourceID
	index map[upstream.SourceID]int
}

type orphanSetup struct {
	seed  uint64
	local string // the `local` directive's arguments
	// Polls of every source (box to upstream and box to box).
	minPoll, maxPoll int
	boxes            []clocktest.ClockConfig // one per box, at 198.18.0.11, .12, ...
	// notServing turns the sync-loop check off, as on boxes whose NTP
	// port is closed.
	notServing bool
	// ownUpstreams gives each box its own upstream server object at
	// 198.18.0.1 (orphanLAN.ups), so that each can lose it at its own time.
	ownUpstreams bool
}

// twoBoxes are two clocks that differ in offset, frequency error and
// wander.
func twoBoxes() []clocktest.ClockConfig {
	return []clocktest.ClockConfig{
		{Offset: 300 * time.Millisecond, FreqErr: 30, Wander: 0.001},
		{Offset: -200 * time.Millisecond, FreqErr: -45, Wander: 0.002},
	}
}

// boxAddr is the address of box i.
func boxAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, byte(11 + i)}) }

// newOrphanLAN builds the LAN: a stratum-1 upstream server at 198.18.0.1
// and the boxes, each with the baked config's `makestep 1 3` and the
// given `local` line, serving (so the sync-loop check is on), ticking
// every second as the daemon does, and polling the upstream and every
// other box with iburst.
func newOrphanLAN(t testing.TB, s orphanSetup) *orphanLAN {
	w := clocktest.NewWorld(clocktest.Start, s.seed)
	n := &orphanLAN{Net: clocktest.NewNet(w), up: clocktest.NewServer("198.18.0.1:123")}
	n.up.RootDisp = 100 * time.Microsecond
	local := parseLocal(t, s.local)
	for i, cc := range s.boxes {
		logs := newRecorder(slog.LevelWarn)
		clk := w.NewClock(cc)
		name := fmt.Sprintf("box%d", i)
		eng := upstream.NewEngine(upstream.Config{
			MakeStep:     &config.MakeStep{Threshold: 1, Limit: 3},
			Local:        local,
			ClockControl: true,
			Precision:    -24,
			HasSources:   true,
			Serving:      !s.notServing,
			Tick:         time.Second,
		}, clk, slog.New(logs).With("box", name))
		b := &lanBox{Box: n.AddBox(boxAddr(i).String(), clk, eng), name: name, logs: logs,
			peers: map[*lanBox]upstream.SourceID{}, index: map[upstream.SourceID]int{}}
		b.Tick = time.Second
		n.boxes = append(n.boxes, b)
	}
	src := config.Source{IBurst: true, MinPoll: s.minPoll, MaxPoll: s.maxPoll, Port: 123}
	for _, b := range n.boxes {
		up := n.up
		if s.ownUpstreams {
			if len(n.ups) > 0 {
				up = clocktest.NewServer("198.18.0.1:123")
				up.RootDisp = n.up.RootDisp
			}
			n.ups = append(n.ups, up)
		}
		b.upID = b.AddServer(up, clocktest.LAN, src)
		b.index[b.upID] = 0
		for _, p := range n.boxes {
			if p != b {
				b.peers[p] = b.AddBox(p.Box, clocktest.LAN, src)
				b.index[b.peers[p]] = len(b.index)
			}
		}
	}
	return n
}

// served is what a box serves now.
func (b *lanBox) served() ntpserver.SyncState { return b.Engine.SyncState() }

// source returns the report line of a box's source; lines come in the
// order the sources were added: the upstream, then the peers.
func (b *lanBox) source(id upstream.SourceID) upstream.SourceReport {
	return b.Engine.Sources()[b.index[id]]
}

// follows returns the box whose address b serves as its reference ID,
// or nil.
func (n *orphanLAN) follows(b *lanBox) *lanBox {
	st := b.served()
	if !st.Synchronised() {
		return nil
	}
	for _, p := range n.boxes {
		if p != b && st.RefID == upstream.RefID(p.Addr) {
			return p
		}
	}
	return nil
}

// mutual reports whether two boxes follow each other: a loop.
func (n *orphanLAN) mutual() bool {
	for _, b := range n.boxes {
		if p := n.follows(b); p != nil && n.follows(p) == b {
			return true
		}
	}
	return false
}

// spread is the largest difference between the times the boxes serve
// (their clocks), in seconds.
func (n *orphanLAN) spread() float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range n.boxes {
		e := b.Clock.ErrorSeconds()
		lo, hi = min(lo, e), max(hi, e)
	}
	return hi - lo
}

// timeline records changes: what each box serves and how it sees the
// upstream, as "+SECONDS s  key: what" relative to t0.
type timeline struct {
	t0      float64
	entries []string
	last    map[string]string
	changed float64 // when what a box serves last changed, relative to t0
}

func newTimeline(t0 float64) *timeline { return &timeline{t0: t0, last: map[string]string{}} }

func (tl *timeline) note(t float64, key, what string) bool {
	if tl.last[key] == what {
		return false
	}
	tl.last[key] = what
	tl.entries = append(tl.entries, fmt.Sprintf("%+7.0f s  %s: %s", t-tl.t0, key, what))
	return true
}

// record notes the state of the LAN at its current time.
func (tl *timeline) record(n *orphanLAN) {
	t := n.Elapsed()
	for _, b := range n.boxes {
		if tl.note(t, b.name+" serves", describe(b.served())) {
			tl.changed = t - tl.t0
		}
		u := b.source(b.upID)
		reach := "reachable"
		if u.Reach == 0 {
			reach = "unreachable"
		}
		sel := "selectable"
		if u.State == "?" || u.State == "x" || u.State == "~" {
			sel = "unselectable"
		}
		tl.note(t, b.name+" upstream", reach+", "+sel)
	}
}

// since returns the entries from rel seconds after t0 on.
func (tl *timeline) since(rel float64) string {
	var out []string
	for _, e := range tl.entries {
		var s float64
		fmt.Sscanf(strings.TrimSpace(e), "%f", &s)
		if s >= rel {
			out = append(out, e)
		}
	}
	return strings.Join(out, "\n")
}
