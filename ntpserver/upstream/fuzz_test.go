package upstream_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// FuzzReceive feeds arbitrary datagrams to a source with an outstanding
// request. When the last octet of the header is odd, the origin is
// patched to match the request and the server timestamps are moved near
// our clock, so the bytes reach the sample code. Nothing may panic, and
// the reports must still be producible.
func FuzzReceive(f *testing.F) {
	w := clocktest.NewWorld(clocktest.Start, 1)
	srv := clocktest.NewServer("198.18.0.1:123")
	req := make([]byte, wire.HeaderLen)
	(&wire.Packet{Version: 4, Mode: wire.ModeClient, Transmit: 0x0123456789abcdef}).Encode(req)
	good := make([]byte, wire.HeaderLen)
	st := ntpserver.SyncState{Stratum: 1, Precision: -20, RefTime: wire.TimeToNTP(w.Now())}
	ntpserver.Respond(good, req, wire.TimeToNTP(w.Now()), &st, 0)
	wire.PutTransmit(good, wire.TimeToNTP(w.Now().Add(time.Microsecond)))
	kod := make([]byte, wire.HeaderLen)
	ntpserver.Respond(kod, req, wire.TimeToNTP(w.Now()), &st, wire.KissCode("DENY"))
	for _, seed := range [][]byte{good, kod, good[:47], {}, append(append([]byte{}, good...), 0, 0, 0, 1)} {
		f.Add(seed)
		if len(seed) >= wire.HeaderLen {
			patched := append([]byte{}, seed...)
			patched[47] |= 1
			f.Add(patched)
		}
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		w := clocktest.NewWorld(clocktest.Start, 1)
		clk := w.NewClock(clocktest.ClockConfig{})
		local := &config.Local{Stratum: 10, Orphan: true, Distance: 1, WaitUnsynced: -1}
		eng := upstream.NewEngine(upstream.Config{
			MakeStep: &config.MakeStep{Threshold: 0.1, Limit: -1}, Local: local,
			ClockControl: true, Precision: -20, Serving: true,
		}, clk, nil)
		id := eng.AddSource("198.18.0.1", srv.Addr, config.Source{MinPoll: 6, MaxPoll: 10})
		buf := make([]byte, 64)
		// Several rounds so that samples accumulate into statistics.
		for round := range 4 {
			n := eng.Transmit(id, clk.Now(), buf)
			if n == 0 { // denied
				break
			}
			p := append([]byte{}, pkt...)
			if len(p) >= wire.HeaderLen && p[47]&1 == 1 {
				copy(p[24:32], buf[40:48])
				// Keep the server's timestamps near our clock so the
				// sample is plausible, shifted by fuzzed amounts.
				shift := int64(binary.BigEndian.Uint16(p[32:34])) - 1<<15
				rx := wire.TimeToNTP(clk.Now()).Add(time.Duration(shift) * time.Microsecond)
				binary.BigEndian.PutUint64(p[32:40], uint64(rx))
				binary.BigEndian.PutUint64(p[40:48], uint64(rx.Add(time.Duration(p[1])*time.Microsecond)))
			}
			eng.Receive(id, p, clk.Now().Add(time.Duration(round)*time.Millisecond), netip.MustParseAddr("198.18.0.100"))
			_ = eng.SyncState()
			_ = eng.Sources()
			_ = eng.Tracking()
			_ = eng.Unreachable()
			_ = eng.Refused()
			_, _, _ = eng.NextPoll()
		}
	})
}
