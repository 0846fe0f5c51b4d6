package ntpserver

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// request builds a request header with the given first octet.
func request(flags byte, xmt wire.Time64, extra int) []byte {
	b := make([]byte, wire.HeaderLen+extra)
	b[0] = flags
	b[wire.OffPoll] = 6
	binary.BigEndian.PutUint64(b[wire.OffTransmit:], uint64(xmt))
	return b
}

func flags(leap wire.Leap, version uint8, mode wire.Mode) byte {
	return byte(leap)<<6 | version<<3 | byte(mode)
}

func TestRespondPolicy(t *testing.T) {
	xmt := wire.TimeToNTP(time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC))
	for _, tc := range []struct {
		name string
		req  []byte
		drop Drop
	}{
		{"v4 client", request(flags(0, 4, wire.ModeClient), xmt, 0), DropNone},
		{"v3 client", request(flags(0, 3, wire.ModeClient), xmt, 0), DropNone},
		{"v2 client", request(flags(0, 2, wire.ModeClient), xmt, 0), DropNone},
		{"v1 client", request(flags(0, 1, wire.ModeClient), xmt, 0), DropNone},
		{"v1 mode 0 is a client", request(flags(0, 1, wire.ModeReserved), xmt, 0), DropNone},
		{"v4 client with MAC", request(flags(0, 4, wire.ModeClient), xmt, 20), DropNone},
		{"version 0", request(flags(0, 0, wire.ModeClient), xmt, 0), DropVersion},
		{"version 5", request(flags(0, 5, wire.ModeClient), xmt, 0), DropVersion},
		{"version 7", request(flags(0, 7, wire.ModeClient), xmt, 0), DropVersion},
		{"v4 mode 0", request(flags(0, 4, wire.ModeReserved), xmt, 0), DropMode},
		{"symmetric active", request(flags(0, 4, wire.ModeSymmetricActive), xmt, 0), DropMode},
		{"symmetric passive", request(flags(0, 4, wire.ModeSymmetricPassive), xmt, 0), DropMode},
		{"server", request(flags(0, 4, wire.ModeServer), xmt, 0), DropMode},
		{"broadcast", request(flags(0, 4, wire.ModeBroadcast), xmt, 0), DropMode},
		{"mode 6 control", request(flags(0, 2, wire.ModeControl), xmt, 0), DropControl},
		{"mode 7 monlist", request(flags(0, 2, wire.ModePrivate), xmt, 0), DropControl},
		{"zero transmit", request(flags(0, 4, wire.ModeClient), 0, 0), DropZeroTransmit},
		{"short", request(flags(0, 4, wire.ModeClient), xmt, 0)[:47], DropShort},
		{"empty", nil, DropShort},
		{"oversized", request(flags(0, 4, wire.ModeClient), xmt, wire.MaxPacketLen), DropTooLong},
		{"garbage trailer", request(flags(0, 4, wire.ModeClient), xmt, 9), DropMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := LocalClock(3, -24)
			out := make([]byte, wire.HeaderLen)
			n, d := Respond(out, tc.req, xmt+1000, &st, 0)
			if d != tc.drop {
				t.Fatalf("drop = %v, want %v", d, tc.drop)
			}
			if d != DropNone {
				if n != 0 {
					t.Errorf("dropped but n = %d", n)
				}
				return
			}
			if n != wire.HeaderLen || n > len(tc.req) {
				t.Fatalf("reply %d octets to a %d-octet request", n, len(tc.req))
			}
			var p wire.Packet
			p.Decode(out)
			wantV := tc.req[0] >> 3 & 7
			if p.Mode != wire.ModeServer || p.Version != wantV {
				t.Errorf("mode %d version %d, want 4 and %d", p.Mode, p.Version, wantV)
			}
			if p.Origin != xmt || p.Receive != xmt+1000 {
				t.Errorf("origin %#x receive %#x", uint64(p.Origin), uint64(p.Receive))
			}
			if p.Stratum != 3 || p.RefID != wire.LocalRefID || p.Leap != wire.LeapNone {
				t.Errorf("header %+v", p)
			}
		})
	}
}

func TestRespondStates(t *testing.T) {
	rx := wire.TimeToNTP(time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC))
	req := request(flags(0, 4, wire.ModeClient), rx-5, 0)
	out := make([]byte, wire.HeaderLen)
	var p wire.Packet

	t.Run("unsynchronised", func(t *testing.T) {
		st := Unsynchronised(-20)
		Respond(out, req, rx, &st, 0)
		p.Decode(out)
		if p.Leap != wire.LeapUnsynchronised || p.Stratum != wire.MaxStratum || p.RefID != 0 {
			t.Errorf("got leap %d stratum %d refid %#x", p.Leap, p.Stratum, p.RefID)
		}
	})
	t.Run("local clock reference time one second back", func(t *testing.T) {
		st := LocalClock(10, -20)
		Respond(out, req, rx, &st, 0)
		p.Decode(out)
		if p.RefTime != rx.Add(-time.Second) || p.Stratum != 10 {
			t.Errorf("reftime %#x stratum %d", uint64(p.RefTime), p.Stratum)
		}
	})
	t.Run("synchronised dispersion grows with age", func(t *testing.T) {
		st := SyncState{Stratum: 3, RefID: 0xC6120001, RefTime: rx.Add(-100 * time.Second),
			RootDelay: 2 * time.Millisecond, RootDispersion: time.Millisecond}
		Respond(out, req, rx, &st, 0)
		p.Decode(out)
		want := time.Millisecond + 1500*time.Microsecond // 100 s * 15 ppm
		if d := p.RootDispersion.Duration() - want; d < -20*time.Microsecond || d > 20*time.Microsecond {
			t.Errorf("root dispersion %v, want %v", p.RootDispersion.Duration(), want)
		}
		if d := p.RootDelay.Duration(); d < 1990*time.Microsecond || d > 2*time.Millisecond {
			t.Errorf("root delay %v", d)
		}
	})
	t.Run("rate kiss", func(t *testing.T) {
		st := LocalClock(3, -20)
		Respond(out, req, rx, &st, wire.KissCode("RATE"))
		p.Decode(out)
		if p.Leap != wire.LeapUnsynchronised || p.Stratum != 0 || wire.RefIDString(0, p.RefID) != "RATE" || p.Origin != rx-5 {
			t.Errorf("kiss %+v", p)
		}
	})
}

func TestRespondDoesNotAllocate(t *testing.T) {
	st := LocalClock(3, -24)
	req := request(flags(0, 4, wire.ModeClient), 12345, 0)
	out := make([]byte, wire.HeaderLen)
	if n := testing.AllocsPerRun(1000, func() { Respond(out, req, 99999, &st, 0) }); n != 0 {
		t.Errorf("Respond allocates %v times per call", n)
	}
}

func BenchmarkRespond(b *testing.B) {
	st := LocalClock(3, -24)
	req := request(flags(0, 4, wire.ModeClient), 12345, 0)
	out := make([]byte, wire.HeaderLen)
	b.ReportAllocs()
	for b.Loop() {
		Respond(out, req, 99999, &st, 0)
	}
}
