package cmdmon

import (
	"encoding/binary"
	"testing"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// FuzzCmdmonRequest: whatever arrives, Respond does not panic, never
// answers with more bytes than it got, answers with a well-formed reply
// that echoes the command and sequence, and answers every request that
// DecodeRequest accepts.
func FuzzCmdmonRequest(f *testing.F) {
	for cmd := range numRequestTypes + 1 {
		f.Add(request(cmd))
	}
	f.Add(request(reqSourceData, 0xff, 0xff, 0xff, 0xff))
	f.Add(request(reqClientAccessesByIndex3, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte{})
	out := make([]byte, MaxReplyLen)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, v := DecodeRequest(b)
		n := Respond(b, out, fakeProvider{})
		if n > len(b) {
			t.Fatalf("reply of %d bytes to %d", n, len(b))
		}
		if v != Drop && n == 0 {
			t.Fatalf("verdict %d but no reply", v)
		}
		if v == Drop && n != 0 {
			t.Fatalf("dropped request answered")
		}
		if n == 0 {
			return
		}
		r := out[:n]
		if n < replyHeaderLen || r[0] != protoVersion || r[1] != pktTypeReply ||
			binary.BigEndian.Uint16(r[4:]) != binary.BigEndian.Uint16(b[4:]) || string(r[16:20]) != string(b[8:12]) {
			t.Fatalf("bad reply % x to % x", r, b)
		}
	})
}

// FuzzDecodeReply: whatever a daemon answers, ParseReply and the
// decoders do not panic, and ParseReply takes only a reply to the
// request it checks against.
func FuzzDecodeReply(f *testing.F) {
	out := make([]byte, MaxReplyLen)
	for _, cmd := range []int{reqTracking, reqNSources, reqSourceData, reqSourceStats, reqActivity,
		reqServerStats, reqNTPData, reqNTPSourceName, reqClientAccessesByIndex3} {
		n := Respond(request(cmd), out, fakeProvider{})
		f.Add(append([]byte(nil), out[:n]...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, replyHeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		var cmd uint16
		var seq uint32
		if len(b) >= replyHeaderLen {
			cmd, seq = binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[16:])
		}
		_, _, data, ok := ParseReply(b, cmd, seq)
		if !ok {
			if len(b) >= replyHeaderLen && b[0] == protoVersion && b[1] == pktTypeReply && b[2] == 0 && b[3] == 0 {
				t.Fatalf("a version 6 reply to its own command and sequence refused: % x", b[:replyHeaderLen])
			}
			return
		}
		if len(data) != len(b)-replyHeaderLen {
			t.Fatalf("data of %d bytes from a reply of %d", len(data), len(b))
		}
		if _, _, _, ok := ParseReply(b, cmd, seq+1); ok {
			t.Fatalf("reply taken for another sequence number")
		}
		d := append(data, make([]byte, MaxReplyLen)...) // the decoders need their length
		DecodeTracking(d)
		DecodeSourceData(d)
		var s upstream.SourceReport
		DecodeSourceStats(d, &s)
		DecodeActivity(d)
		DecodeServerStats(d)
		DecodeClients(d)
		DecodeNTPData(d)
		cString(d[:256])
	})
}
