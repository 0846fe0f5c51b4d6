package upstream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
)

// Servers whose replies leave 200 µs after their transmit timestamp was
// read (a busy server, its transmit time read before the send): in basic
// mode the box reads their time 100 µs early and serves it so. With
// `xleave` the servers (interleaved as chronyd is) send the real
// transmit time of each reply in the next one, and the bias is gone.
//
// The box starts 80 ms off, under makestep's 0.1 s, and slews as Linux
// does (fast, capped, at its ticks): the times it keeps from one
// exchange to the next are re-expressed at every update of a clock that
// moves fast, and wrong ones would show here as errors of milliseconds.
//
// Three networks:
//   - the LAN at the baked polling: each interleaved sample is the whole
//     previous exchange (the poll is far longer than 10 round trips);
//   - a 60 ms path polled every second: the poll is under 10 round trips
//     (0.1 × 0.88 s < 0.12 s), so the sample takes our current request
//     and the server's receive time of it with the previous reply's
//     transmit and receive times (both intervals negative);
//   - the LAN losing 20% of the packets each way: a lost reply leaves the
//     next request naming a reply the server already used, which it
//     answers in basic mode, and a basic sample's times are not used
//     twice.
func TestXleaveRemovesServerTxLatency(t *testing.T) {
	const latency = 200 * time.Microsecond
	for _, tc := range []struct {
		name             string
		link             clocktest.Link
		minPoll, maxPoll int
		// The xleave run's median error must be within maxMedian, and
		// its p95 at most p95Ratio times basic mode's.
		maxMedian, p95Ratio float64
	}{
		{"LAN, minpoll 6 maxpoll 10", clocktest.LAN, 6, 10, 20e-6, 0.5},
		{"60 ms away, poll 1 s", clocktest.Link{Delay: 60 * time.Millisecond, Jitter: 50 * time.Microsecond}, 0, 0, 20e-6, 0.5},
		// After each lost packet the next sample is a basic one (the
		// server answers so) and the one after gives none: measured
		// (2026-12-05) median -51.0 µs against -82.3 µs in basic mode.
		{"LAN losing 20%", clocktest.Link{Delay: 100 * time.Microsecond, Jitter: 50 * time.Microsecond, Loss: 0.2}, 6, 10, 70e-6, 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(xleave bool) (median, p95 float64, hits int, interleaved bool) {
				s := hardDefaults()
				s.source.XLeave = xleave
				s.source.MinPoll, s.source.MaxPoll = tc.minPoll, tc.maxPoll
				s.link = tc.link
				s.clocks[0].Offset = 80 * time.Millisecond
				s.linux = true
				n := newHardLAN(t, s)
				for _, srv := range n.servers {
					srv.TxLatency = latency
					srv.Interleaved = true
				}
				n.run(time.Hour, false)
				var errs []float64
				n.Every = time.Second
				n.Observe = func(*clocktest.Net) {
					e := n.boxes[0].Clock.ErrorSeconds()
					errs = append(errs, e)
					n.boxes[0].errs.Add(e)
				}
				n.Run(3 * time.Hour)
				n.Observe = nil
				slices.Sort(errs)
				abs := make([]float64, len(errs))
				for i, e := range errs {
					abs[i] = max(e, -e)
				}
				slices.Sort(abs)
				for _, srv := range n.servers {
					hits += srv.InterleavedReplies
				}
				for _, r := range n.boxes[0].Engine.Sources() {
					interleaved = interleaved || r.NTP.Interleaved
				}
				// The bound and the error of both modes (basic: its bias).
				n.check(t, hour, 200e-6, 400e-6)
				return errs[len(errs)/2], abs[len(abs)*95/100], hits, interleaved
			}
			bMed, bP95, bHits, bInter := run(false)
			xMed, xP95, xHits, xInter := run(true)
			t.Logf("basic: clock error median %s, |error| p95 %s, %d interleaved replies", us(bMed), us(bP95), bHits)
			t.Logf("xleave: clock error median %s, |error| p95 %s, %d interleaved replies", us(xMed), us(xP95), xHits)
			// ErrorSeconds is the clock minus true time: reading the
			// servers' time early sets the clock behind.
			if bMed > -70e-6 || bMed < -130e-6 || bHits != 0 || bInter {
				t.Errorf("basic mode: median error %s and %d interleaved replies, want about -100 µs and none", us(bMed), bHits)
			}
			if xMed < -tc.maxMedian || xMed > tc.maxMedian || xHits == 0 || !xInter {
				t.Errorf("xleave: median error %s and %d interleaved replies (ntpdata interleaved %v), want within %s and some", us(xMed), xHits, xInter, us(tc.maxMedian))
			}
			if xP95 > bP95*tc.p95Ratio {
				t.Errorf("xleave: |error| p95 %s, want at most %.1f times basic mode's %s", us(xP95), tc.p95Ratio, us(bP95))
			}
		})
	}
}

// A server without kernel transmit timestamps answers interleaved
// requests with the transmit time its earlier reply already carried:
// the reply repeats one timestamp of the last one, which is no
// duplicate (chrony's test 1 wants both repeated), and the source
// stays in interleaved mode, a sample from every reply but the first
// interleaved one.
func TestXleaveDaemonTxServer(t *testing.T) {
	s := hardDefaults()
	s.source.XLeave = true
	n := newHardLAN(t, s)
	for _, srv := range n.servers {
		srv.Interleaved, srv.DaemonTx = true, true
	}
	n.run(time.Hour, false)
	n.run(2*time.Hour, true)
	hits := 0
	for _, srv := range n.servers {
		hits += srv.InterleavedReplies
	}
	for _, r := range n.boxes[0].Engine.Sources() {
		t.Logf("%s: %d requests, %d valid replies, %d good; last reply interleaved %v", r.Name, r.NTP.TotalTx, r.ValidRx, r.GoodRx, r.NTP.Interleaved)
		if !r.NTP.Interleaved || r.ValidRx < r.NTP.TotalTx*9/10 || r.GoodRx < r.ValidRx-6 {
			t.Errorf("%s: want interleaved replies, all valid, and samples from all but the first few", r.Name)
		}
	}
	if hits == 0 {
		t.Error("no interleaved reply")
	}
	n.check(t, hour, 100e-6, 150e-6)
}
