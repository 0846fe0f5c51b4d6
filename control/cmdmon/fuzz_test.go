package cmdmon

import (
	"encoding/binary"
	"testing"
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
