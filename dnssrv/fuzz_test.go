package dnssrv

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary messages to the responder: no panic, and any
// reply packs, echoes the id and never offers recursion.
func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"_ntp._udp.time.example.", dns.TypeSRV}, {"ntp1.time.example.", dns.TypeA}, {"x.time.example.", dns.TypeANY}, {"example.", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		b, _ := m.Pack()
		f.Add(b)
	}
	r, err := New(Config{Zone: "time.example", Servers: manyServers(20)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return
		}
		rec := &recorder{}
		r.ServeDNS(rec, req)
		if rec.writes == 0 {
			if !req.Response {
				t.Fatal("query not answered")
			}
			return
		}
		if rec.err != nil {
			t.Fatalf("reply: %v", rec.err)
		}
		if rec.msg.Id != req.Id || rec.msg.RecursionAvailable || !rec.msg.Response {
			t.Fatalf("reply header %+v", rec.msg.MsgHdr)
		}
	})
}

// streamConn is a net.Conn over a byte stream: reads come from in (EOF
// at its end), writes go to out. Deadlines are ignored.
type streamConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *streamConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *streamConn) Close() error                { return nil }
func (c *streamConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 53} }
func (c *streamConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(198, 18, 0, 77), Port: 40000}
}
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzTCPFraming feeds an arbitrary client stream to one TCP connection
// and checks the replies against a model of the framing: messages are
// taken in order until the stream ends, a declared length is over the
// cap or under a header (the connection is then closed with nothing of
// that message read), or fuzzMaxQueries were taken; every message but a
// response gets exactly one reply, in order, with its id.
func FuzzTCPFraming(f *testing.F) {
	const fuzzMaxQueries = 6
	q := func(id uint16, name string, qtype uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Id = id
		m.SetEdns0(1232, false)
		b, _ := m.Pack()
		return withLength(b)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	srv := q(1, "_ntp._udp.time.example.", dns.TypeSRV)
	f.Add(srv)
	f.Add(cat(srv, q(2, "ntp1.time.example.", dns.TypeA), q(3, "example.", dns.TypeA)))
	f.Add(cat(srv, []byte{0xff, 0xff}, make([]byte, 100)))
	f.Add(cat(srv, []byte{0x02, 0x01}))
	f.Add(cat(srv, []byte{0x00, 0x05, 1, 2, 3, 4, 5}, srv))
	f.Add(cat(srv, srv[:20]))
	f.Add(cat(srv, srv, srv, srv, srv, srv, srv, srv))
	f.Add([]byte{0x00})
	r, err := New(Config{Zone: "time.example", Servers: manyServers(20)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		s := NewTCPServer(nil, r, TCPConfig{MaxQueries: fuzzMaxQueries, Logger: slog.New(slog.DiscardHandler)})
		c := &streamConn{in: bytes.NewReader(stream)}
		s.serveConn(c)

		// The model: the ids that get a reply, and how much of the
		// stream the server may read.
		var want []uint16
		read := len(stream)
		for off, n := 0, 0; off+2 <= len(stream) && n < fuzzMaxQueries; n++ {
			size := int(binary.BigEndian.Uint16(stream[off:]))
			if size > DefaultMaxQuerySize || size < headerSize {
				read = off + 2
				break
			}
			if off+2+size > len(stream) {
				break
			}
			msg := stream[off+2 : off+2+size]
			if msg[2]&0x80 == 0 { // QR clear: a query
				want = append(want, binary.BigEndian.Uint16(msg))
			}
			off += 2 + size
			if n == fuzzMaxQueries-1 {
				read = off
			}
		}
		if got := len(stream) - c.in.Len(); got != read {
			t.Fatalf("the server read %d bytes of the stream, want %d", got, read)
		}
		out := c.out.Bytes()
		var got []uint16
		for len(out) > 0 {
			if len(out) < 2 {
				t.Fatalf("a reply cut in its length: % x", out)
			}
			size := int(binary.BigEndian.Uint16(out))
			if len(out) < 2+size {
				t.Fatalf("a reply of %d bytes has %d", size, len(out)-2)
			}
			m := new(dns.Msg)
			if err := m.Unpack(out[2 : 2+size]); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if !m.Response || m.RecursionAvailable {
				t.Fatalf("reply header %+v", m.MsgHdr)
			}
			got = append(got, m.Id)
			out = out[2+size:]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("replies to ids %v, want %v", got, want)
		}
	})
}
