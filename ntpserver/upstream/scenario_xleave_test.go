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
//
// What interleaved mode buys is the bias: in the same world (seed), the
// median error moves forward by 95–117 µs (seeds 1–5, 2026-12-05), half
// the latency. At long polls each interleaved sample is of the exchange
// a poll before, up to 1024 s old, and the spread grows: xleave's
// |error| p95 was 42–172 µs against basic mode's 99–150 µs (medians
// -3.0…+24.3 µs against -70.8…-117.5 µs; the world's own wander moves
// both). At 1 s polls (the 60 ms case) p95 is 11 µs against 108 µs.
// Under loss, basic and interleaved samples mix: the median moves by
// 31–100 µs.
func TestXleaveRemovesServerTxLatency(t *testing.T) {
	const latency = 200 * time.Microsecond
	for _, tc := range []struct {
		name             string
		link             clocktest.Link
		minPoll, maxPoll int
		seeds            uint64
		// Per seed, xleave must move the median error forward by at
		// least minShift (and at most 130 µs: half the latency is
		// 100 µs) from basic mode's in the same world; its p95 be at
		// most p95Ratio times basic mode's (0: not checked); p95Limit
		// is n.check's for both.
		minShift, p95Ratio, p95Limit float64
	}{
		{"LAN, minpoll 6 maxpoll 10", clocktest.LAN, 6, 10, 5, 70e-6, 0, 200e-6},
		{"60 ms away, poll 1 s", clocktest.Link{Delay: 60 * time.Millisecond, Jitter: 50 * time.Microsecond}, 0, 0, 1, 70e-6, 0.5, 200e-6},
		{"LAN losing 20%", clocktest.Link{Delay: 100 * time.Microsecond, Jitter: 50 * time.Microsecond, Loss: 0.2}, 6, 10, 5, 20e-6, 0, 300e-6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(seed uint64, xleave bool) (median, p95 float64, hits int) {
				s := hardDefaults()
				s.seed = seed
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
				interleaved := false
				for _, r := range n.boxes[0].Engine.Sources() {
					interleaved = interleaved || r.NTP.Interleaved
				}
				if xleave && tc.link.Loss == 0 && !interleaved {
					t.Errorf("seed %d: ntpdata: the last replies were not interleaved", seed)
				}
				n.check(t, hour, tc.p95Limit, tc.p95Limit+100e-6)
				return errs[len(errs)/2], abs[len(abs)*95/100], hits
			}
			for seed := uint64(1); seed <= tc.seeds; seed++ {
				bMed, bP95, bHits := run(seed, false)
				xMed, xP95, xHits := run(seed, true)
				t.Logf("seed %d: basic: clock error median %s, |error| p95 %s; xleave: median %s, p95 %s, %d interleaved replies",
					seed, us(bMed), us(bP95), us(xMed), us(xP95), xHits)
				// ErrorSeconds is the clock minus true time: reading the
				// servers' time early sets the clock behind.
				if bMed > -60e-6 || bMed < -140e-6 || bHits != 0 {
					t.Errorf("seed %d: basic mode: median error %s and %d interleaved replies, want about -100 µs and none", seed, us(bMed), bHits)
				}
				if shift := xMed - bMed; shift < tc.minShift || shift > 130e-6 || xHits == 0 {
					t.Errorf("seed %d: xleave: median error %s (basic %s) and %d interleaved replies, want %s to 130 µs later than basic's, and some",
						seed, us(xMed), us(bMed), xHits, us(tc.minShift))
				}
				if tc.p95Ratio > 0 && xP95 > bP95*tc.p95Ratio {
					t.Errorf("seed %d: xleave: |error| p95 %s, want at most %.1f times basic mode's %s", seed, us(xP95), tc.p95Ratio, us(bP95))
				}
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
