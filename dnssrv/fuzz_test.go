package dnssrv

import (
	"testing"

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
