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
func TestXleaveRemovesServerTxLatency(t *testing.T) {
	const latency = 200 * time.Microsecond
	run := func(xleave bool) (median, p95 float64, hits int, interleaved bool) {
		s := hardDefaults()
		s.source.XLeave = xleave
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
		n.check(t, hour, 200e-6, 300e-6)
		return errs[len(errs)/2], abs[len(abs)*95/100], hits, interleaved
	}
	bMed, bP95, bHits, bInter := run(false)
	xMed, xP95, xHits, xInter := run(true)
	t.Logf("basic: clock error median %s, |error| p95 %s, %d interleaved replies", us(bMed), us(bP95), bHits)
	t.Logf("xleave: clock error median %s, |error| p95 %s, %d interleaved replies", us(xMed), us(xP95), xHits)
	// ErrorSeconds is the clock minus true time: reading the servers'
	// time early sets the clock behind.
	if bMed > -70e-6 || bMed < -130e-6 || bHits != 0 || bInter {
		t.Errorf("basic mode: median error %s and %d interleaved replies, want about -100 µs and none", us(bMed), bHits)
	}
	if xMed < -20e-6 || xMed > 20e-6 || xHits == 0 || !xInter {
		t.Errorf("xleave: median error %s and %d interleaved replies (ntpdata interleaved %v), want within 20 µs and some", us(xMed), xHits, xInter)
	}
	if xP95 > bP95/2 {
		t.Errorf("xleave: |error| p95 %s, want at most half of basic mode's %s", us(xP95), us(bP95))
	}
}
