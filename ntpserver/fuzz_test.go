package ntpserver

import (
	"bytes"
	"testing"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// FuzzPacket checks the codec and the policy on arbitrary input: nothing
// panics, the header round-trips, the extension walk stays in bounds, and
// a reply is never larger than its request and always echoes its transmit
// timestamp.
func FuzzPacket(f *testing.F) {
	f.Add(request(flags(0, 4, wire.ModeClient), 0x1234, 0))
	f.Add(request(flags(0, 3, wire.ModeClient), 0x1234, 20))
	f.Add(request(flags(0, 2, wire.ModePrivate), 0x1234, 0))
	f.Add(wire.AppendExtension(request(flags(0, 4, wire.ModeClient), 1, 0), 0x0104, make([]byte, 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p wire.Packet
		if p.Decode(b) == nil {
			var enc [wire.HeaderLen]byte
			p.Encode(enc[:])
			// Only the flags octet can differ: nothing. All 48 octets round-trip.
			if !bytes.Equal(enc[:], b[:wire.HeaderLen]) {
				t.Fatalf("header round trip:\n in  %x\n out %x", b[:wire.HeaderLen], enc)
			}
		}
		if e, err := wire.ParseExtensions(b, p.Version); err == nil {
			n := 0
			for off := wire.HeaderLen; off < e.FieldsEnd; n++ {
				var x wire.Extension
				x, off = wire.NextExtension(b, off)
				if len(x.Value) < wire.MinExtensionLen-4 {
					t.Fatalf("field value of %d octets", len(x.Value))
				}
			}
			if n != e.Count || e.FieldsEnd+e.MACLen != len(b) {
				t.Fatalf("walk: %d fields to %d+%d of %d", n, e.FieldsEnd, e.MACLen, len(b))
			}
		}
		st := LocalClock(3, -20)
		out := make([]byte, wire.HeaderLen)
		n, d := Respond(out, b, 42, &st, 0)
		if (n == 0) != (d != DropNone) {
			t.Fatalf("n=%d drop=%v", n, d)
		}
		if n > 0 {
			if n > len(b) {
				t.Fatalf("reply %d > request %d", n, len(b))
			}
			if !bytes.Equal(out[wire.OffOrigin:wire.OffOrigin+8], b[wire.OffTransmit:wire.OffTransmit+8]) || out[0]&7 != byte(wire.ModeServer) {
				t.Fatalf("bad reply %x to %x", out, b)
			}
		}
	})
}
