package dhcpopt

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
)

var (
	arpSelfHW = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	arpSelf   = netip.MustParseAddr("198.18.0.2")
	arpTarget = netip.MustParseAddr("198.18.0.100")
)

func TestARPWhoHasWire(t *testing.T) {
	got := whoHas(arpSelfHW, arpSelf, arpTarget).marshal()
	// htype 1, ptype 0x0800, hlen 6, plen 4, op 1, sha, spa, tha 0, tpa:
	// the request tcpdump shows as "who-has 198.18.0.100 tell 198.18.0.2".
	want, _ := hex.DecodeString("0001080006040001" + "525400123456" + "c6120002" + "000000000000" + "c6120064")
	if !bytes.Equal(got, want) {
		t.Fatalf("who-has:\n got %x\nwant %x", got, want)
	}
	p, err := parseARP(append(got, make([]byte, 18)...)) // with Ethernet padding
	if err != nil {
		t.Fatal(err)
	}
	if p.Op != arpRequest || !bytes.Equal(p.SenderHW, arpSelfHW) || p.SenderIP != arpSelf || p.TargetIP != arpTarget {
		t.Errorf("round trip: %+v", p)
	}
}

func TestARPClaims(t *testing.T) {
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	reply := arpPacket{Op: arpReply, SenderHW: other, SenderIP: arpTarget, TargetHW: arpSelfHW, TargetIP: arpSelf}
	gratuitous := arpPacket{Op: arpRequest, SenderHW: other, SenderIP: arpTarget, TargetIP: arpTarget}
	probe := arpPacket{Op: arpRequest, SenderHW: other, TargetIP: arpTarget} // RFC 5227: sender 0.0.0.0
	ours := whoHas(arpSelfHW, arpSelf, arpTarget)
	otherReply := arpPacket{Op: arpReply, SenderHW: other, SenderIP: netip.MustParseAddr("198.18.0.101"), TargetIP: arpSelf}
	for _, c := range []struct {
		name string
		p    arpPacket
		want bool
	}{{"reply from target", reply, true}, {"gratuitous ARP", gratuitous, true}, {"RFC 5227 probe", probe, false},
		{"our own request", ours, false}, {"reply for another address", otherReply, false}} {
		// Through the wire format, as InUse sees them.
		p, err := parseARP(c.p.marshal())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := p.claims(arpTarget); got != c.want {
			t.Errorf("%s: claims(%v) = %v, want %v", c.name, arpTarget, got, c.want)
		}
	}
	if reply.claims(netip.Addr{}) || (arpPacket{}).claims(netip.IPv4Unspecified()) {
		t.Error("an invalid or unspecified address is claimed")
	}
}

func TestParseARPRejects(t *testing.T) {
	good := whoHas(arpSelfHW, arpSelf, arpTarget).marshal()
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short":           good[:27],
		"hardware type 6": mod(1, 6),
		"IPv6":            mod(2, 0x86),
		"hlen 8":          mod(4, 8),
		"plen 16":         mod(5, 16),
		"RARP op 3":       mod(7, 3),
		"op 0":            mod(7, 0),
	} {
		if p, err := parseARP(b); err == nil {
			t.Errorf("%s: parsed as %+v", name, p)
		}
	}
}

// FuzzARP: parseARP never panics, and whatever it accepts re-encodes to
// the first 28 bytes it read.
func FuzzARP(f *testing.F) {
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	f.Add(whoHas(arpSelfHW, arpSelf, arpTarget).marshal())
	f.Add(arpPacket{Op: arpReply, SenderHW: other, SenderIP: arpTarget, TargetHW: arpSelfHW, TargetIP: arpSelf}.marshal())
	f.Add(append(arpPacket{Op: arpRequest, SenderHW: other, TargetIP: arpTarget}.marshal(), make([]byte, 18)...))
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseARP(b)
		if err != nil {
			return
		}
		if got := p.marshal(); !bytes.Equal(got, b[:arpLen]) {
			t.Fatalf("re-encoded %x, read %x", got, b[:arpLen])
		}
		if p.claims(p.SenderIP) != (!p.SenderIP.IsUnspecified()) {
			t.Fatalf("claims(%v) wrong", p.SenderIP)
		}
	})
}
