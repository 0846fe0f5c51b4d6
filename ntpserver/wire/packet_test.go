package wire

import (
	"bytes"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	p := Packet{
		Leap: LeapInsert, Version: 4, Mode: ModeServer, Stratum: 3, Poll: 6, Precision: -24,
		RootDelay: 0x1234, RootDispersion: 0x5678, RefID: 0xC6120001,
		RefTime: 1, Origin: 2, Receive: 3, Transmit: 0xffffffff00000001,
	}
	var b [HeaderLen]byte
	if n := p.Encode(b[:]); n != HeaderLen {
		t.Fatalf("Encode = %d", n)
	}
	if b[0] != 0x64 {
		t.Errorf("flags octet = %#x, want 0x64 (LI 1, VN 4, mode 4)", b[0])
	}
	var q Packet
	if err := q.Decode(b[:]); err != nil {
		t.Fatal(err)
	}
	if q != p {
		t.Errorf("decoded %+v, want %+v", q, p)
	}
	if err := q.Decode(b[:47]); err != ErrShort {
		t.Errorf("Decode(47 octets) = %v, want ErrShort", err)
	}
}

func TestRefIDString(t *testing.T) {
	for _, tc := range []struct {
		stratum uint8
		id      uint32
		want    string
	}{
		{0, KissCode("RATE"), "RATE"},
		{1, KissCode("GPS"), "GPS"},
		{2, 0xC6120001, "198.18.0.1"},
		{3, LocalRefID, "127.127.1.1"},
		{1, 0x01020304, "1.2.3.4"}, // not printable: numeric
	} {
		if got := RefIDString(tc.stratum, tc.id); got != tc.want {
			t.Errorf("RefIDString(%d, %#x) = %q, want %q", tc.stratum, tc.id, got, tc.want)
		}
	}
}

func TestParseExtensions(t *testing.T) {
	hdr := func(version uint8) []byte {
		b := make([]byte, HeaderLen)
		(&Packet{Version: version, Mode: ModeClient, Transmit: 1}).Encode(b)
		return b
	}
	ef := func(n int) []byte { return AppendExtension(nil, 0x0104, make([]byte, n-4)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name   string
		pkt    []byte
		err    error
		count  int
		macLen int
	}{
		{"bare v4", hdr(4), nil, 0, 0},
		{"v4 one field", cat(hdr(4), ef(32)), nil, 1, 0},
		{"v4 two fields and MAC", cat(hdr(4), ef(16), ef(40), make([]byte, 20)), nil, 2, 20},
		{"v4 crypto-NAK", cat(hdr(4), make([]byte, 4)), nil, 0, 4},
		{"v4 SHA1 MAC", cat(hdr(4), make([]byte, 24)), nil, 0, 24},
		{"v3 MD5 MAC", cat(hdr(3), make([]byte, 20)), nil, 0, 20},
		{"v3 long MAC", cat(hdr(3), make([]byte, 36)), nil, 0, 36},
		{"v3 field not allowed", cat(hdr(3), ef(72)), ErrBadMAC, 0, 0},
		{"v4 field length not multiple of 4", cat(hdr(4), []byte{0, 1, 0, 17}, make([]byte, 28)), ErrBadExtension, 0, 0},
		{"v4 field shorter than 16", cat(hdr(4), []byte{0, 1, 0, 8}, make([]byte, 28)), ErrBadExtension, 0, 0},
		{"v4 field runs past end", cat(hdr(4), []byte{0, 1, 0, 64}, make([]byte, 28)), ErrBadExtension, 0, 0},
		{"v4 odd trailer", cat(hdr(4), make([]byte, 7)), ErrBadExtension, 0, 0},
		{"too many fields", cat(hdr(4), bytes.Repeat(ef(16), MaxExtensions+1)), ErrTooManyFields, 0, 0},
		{"too long", cat(hdr(4), make([]byte, MaxPacketLen)), ErrTooLong, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseExtensions(tc.pkt, tc.pkt[0]>>3&7)
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if e.Count != tc.count || e.MACLen != tc.macLen {
				t.Errorf("got %+v, want count %d mac %d", e, tc.count, tc.macLen)
			}
			n := 0
			for off := HeaderLen; off < e.FieldsEnd; n++ {
				_, off = NextExtension(tc.pkt, off)
			}
			if n != e.Count || e.FieldsEnd+e.MACLen != len(tc.pkt) {
				t.Errorf("walked %d fields to %d+%d, packet %d", n, e.FieldsEnd, e.MACLen, len(tc.pkt))
			}
		})
	}
}

func TestAppendExtensionPads(t *testing.T) {
	b := AppendExtension(nil, 0x0204, []byte{1, 2, 3, 4, 5})
	if len(b) != 16 {
		t.Fatalf("len = %d, want 16 (minimum)", len(b))
	}
	b = AppendExtension(nil, 0x0204, make([]byte, 17))
	if len(b) != 24 {
		t.Fatalf("len = %d, want 24 (4+17 padded)", len(b))
	}
}
