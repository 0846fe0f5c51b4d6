package dnssrv

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func testResponder(t *testing.T) *Responder {
	t.Helper()
	r, err := New(Config{
		Zone: "Time.Example",
		Servers: []netip.Addr{
			netip.MustParseAddr("198.18.0.2"),
			netip.MustParseAddr("198.18.0.3"),
			netip.MustParseAddr("2001:db8::123"),
		},
		TTL:    600,
		Serial: 2026112601,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func query(t *testing.T, h dns.Handler, name string, qtype uint16, edit ...func(*dns.Msg)) *dns.Msg {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	for _, e := range edit {
		e(req)
	}
	rec := &recorder{}
	h.ServeDNS(rec, req)
	if rec.err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], rec.err)
	}
	if rec.writes != 1 || rec.msg == nil {
		t.Fatalf("%s %s: %d writes", name, dns.TypeToString[qtype], rec.writes)
	}
	if rec.msg.Id != req.Id || !rec.msg.Response {
		t.Fatalf("reply id %d response %v", rec.msg.Id, rec.msg.Response)
	}
	if rec.msg.RecursionAvailable {
		t.Errorf("%s: RA set", name)
	}
	return rec.msg
}

// rrStrings renders records as zone file lines, tabs squeezed.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func TestAnswers(t *testing.T) {
	r := testResponder(t)
	soa := "time.example. 600 IN SOA ns.time.example. hostmaster.time.example. 2026112601 3600 600 86400 600"
	for _, tc := range []struct {
		name       string
		qtype      uint16
		rcode      int
		aa         bool
		answer, ns []string
		extra      []string
	}{
		{name: "_ntp._udp.time.example.", qtype: dns.TypeSRV, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{
				"_ntp._udp.time.example. 600 IN SRV 10 10 123 ntp1.time.example.",
				"_ntp._udp.time.example. 600 IN SRV 10 10 123 ntp2.time.example.",
				"_ntp._udp.time.example. 600 IN SRV 10 10 123 ntp3.time.example.",
			},
			extra: []string{
				"ntp1.time.example. 600 IN A 198.18.0.2",
				"ntp2.time.example. 600 IN A 198.18.0.3",
				"ntp3.time.example. 600 IN AAAA 2001:db8::123",
			}},
		{name: "NTP1.time.example.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"NTP1.time.example. 600 IN A 198.18.0.2"}},
		{name: "ntp3.time.example.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"ntp3.time.example. 600 IN AAAA 2001:db8::123"}},
		{name: "time.example.", qtype: dns.TypeSOA, rcode: dns.RcodeSuccess, aa: true, answer: []string{soa}},
		{name: "time.example.", qtype: dns.TypeNS, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"time.example. 600 IN NS ns.time.example."},
			extra:  []string{"ns.time.example. 600 IN A 198.18.0.2"}},
		{name: "time.example.", qtype: dns.TypeANY, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"time.example. 600 IN NS ns.time.example.", soa},
			extra:  []string{"ns.time.example. 600 IN A 198.18.0.2"}},
		// NODATA: the name exists, the type does not.
		{name: "ntp1.time.example.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, aa: true, ns: []string{soa}},
		{name: "time.example.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, ns: []string{soa}},
		// NODATA at an empty non-terminal.
		{name: "_udp.time.example.", qtype: dns.TypeSRV, rcode: dns.RcodeSuccess, aa: true, ns: []string{soa}},
		// NXDOMAIN.
		{name: "ntp9.time.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: []string{soa}},
		{name: "_ntp._tcp.time.example.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, aa: true, ns: []string{soa}},
		// Outside the zone.
		{name: "example.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "pool.ntp.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "nottime.example.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "time.example.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	} {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			m := query(t, r, tc.name, tc.qtype)
			if m.Rcode != tc.rcode || m.Authoritative != tc.aa {
				t.Errorf("rcode %s aa %v, want %s aa %v", dns.RcodeToString[m.Rcode], m.Authoritative,
					dns.RcodeToString[tc.rcode], tc.aa)
			}
			if m.Question[0].Name != tc.name {
				t.Errorf("question %q not echoed", m.Question[0].Name)
			}
			for _, s := range []struct {
				what      string
				got, want []string
			}{{"answer", rrStrings(m.Answer), tc.answer}, {"authority", rrStrings(m.Ns), tc.ns}, {"additional", rrStrings(m.Extra), tc.extra}} {
				if !slices.Equal(s.got, s.want) {
					t.Errorf("%s:\n got %q\nwant %q", s.what, s.got, s.want)
				}
			}
		})
	}
}

func TestHeaderChecks(t *testing.T) {
	r := testResponder(t)
	zone := "_ntp._udp.time.example."
	for _, tc := range []struct {
		name  string
		edit  func(*dns.Msg)
		rcode int
	}{
		{"notify", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, dns.RcodeNotImplemented},
		{"update", func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }, dns.RcodeNotImplemented},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, dns.RcodeFormatError},
		{"no question", func(m *dns.Msg) { m.Question = nil }, dns.RcodeFormatError},
		{"chaos", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, dns.RcodeRefused},
		{"edns version 1", func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }, dns.RcodeBadVers},
		{"recursion desired", func(m *dns.Msg) { m.RecursionDesired = true }, dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := query(t, r, zone, dns.TypeSRV, tc.edit)
			if m.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
	// A response is never answered.
	req := new(dns.Msg)
	req.SetQuestion(zone, dns.TypeSRV)
	req.Response = true
	rec := &recorder{}
	r.ServeDNS(rec, req)
	if rec.writes != 0 {
		t.Error("answered a response")
	}
}

func manyServers(n int) []netip.Addr {
	var out []netip.Addr
	a := netip.MustParseAddr("198.18.1.1")
	for range n {
		out = append(out, a)
		a = a.Next()
	}
	return out
}

func TestTruncation(t *testing.T) {
	r, err := New(Config{Zone: "time.example", Servers: manyServers(60)})
	if err != nil {
		t.Fatal(err)
	}
	const name = "_ntp._udp.time.example."
	send := func(remote net.Addr, edns uint16) *recorder {
		t.Helper()
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeSRV)
		if edns > 0 {
			req.SetEdns0(edns, false)
		}
		rec := &recorder{remote: remote}
		r.ServeDNS(rec, req)
		if rec.err != nil || rec.msg == nil {
			t.Fatalf("reply: %v", rec.err)
		}
		return rec
	}
	plain := send(nil, 0)
	if !plain.msg.Truncated || plain.size > dns.MinMsgSize || len(plain.msg.Answer) == 0 {
		t.Errorf("UDP without EDNS: TC=%v, %d bytes, %d answers", plain.msg.Truncated, plain.size, len(plain.msg.Answer))
	}
	big := send(nil, 4096)
	if !big.msg.Truncated || big.size > maxUDPSize || len(big.msg.Answer) <= len(plain.msg.Answer) {
		t.Errorf("UDP with EDNS 4096: TC=%v, %d bytes, %d answers", big.msg.Truncated, big.size, len(big.msg.Answer))
	}
	if opt := big.msg.IsEdns0(); opt == nil || opt.UDPSize() != maxUDPSize {
		t.Errorf("reply OPT %v", opt)
	}
	tcp := send(&net.TCPAddr{IP: net.IPv4(198, 18, 0, 77), Port: 40000}, 0)
	if tcp.msg.Truncated || len(tcp.msg.Answer) != 60 || len(tcp.msg.Extra) != 60 {
		t.Errorf("TCP: TC=%v, %d answers, %d extra", tcp.msg.Truncated, len(tcp.msg.Answer), len(tcp.msg.Extra))
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Zone: "", Servers: manyServers(1)}, "bad zone"},
		{Config{Zone: ".", Servers: manyServers(1)}, "bad zone"},
		{Config{Zone: "a..b", Servers: manyServers(1)}, "bad zone"},
		{Config{Zone: "time.example"}, "no NTP servers"},
		{Config{Zone: "time.example", Servers: []netip.Addr{{}}}, "bad address"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("New(%+v): %v, want %q", tc.cfg, err, tc.wantErr)
		}
	}
}

func TestResponderStatsAndRecords(t *testing.T) {
	r, err := New(Config{Zone: "time.test", Servers: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, NS: []netip.Addr{netip.MustParseAddr("198.18.0.2")}})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string, qtype uint16) {
		req := new(dns.Msg)
		req.SetQuestion(name, qtype)
		r.ServeDNS(&statsRecorder{}, req)
	}
	ask("_ntp._udp.time.test.", dns.TypeSRV)
	ask("_ntp._udp.time.test.", dns.TypeSRV)
	ask("nothing.time.test.", dns.TypeA)
	ask("example.org.", dns.TypeA)
	st := r.Stats()
	if st.ByType["SRV"] != 2 || st.ByType["A"] != 2 {
		t.Errorf("by type %v, want SRV 2, A 2", st.ByType)
	}
	if st.ByRcode["NOERROR"] != 2 || st.ByRcode["NXDOMAIN"] != 1 || st.ByRcode["REFUSED"] != 1 {
		t.Errorf("by rcode %v, want NOERROR 2, NXDOMAIN 1, REFUSED 1", st.ByRcode)
	}
	recs := r.Records()
	var srv bool
	for _, rec := range recs {
		if strings.Contains(rec, "_ntp._udp.time.test.") && strings.Contains(rec, "SRV") {
			srv = true
		}
		if strings.Contains(rec, "\t") {
			t.Errorf("record %q has a tab", rec)
		}
	}
	if !srv {
		t.Errorf("records %q lack the SRV record", recs)
	}
}

// statsRecorder is a ResponseWriter that keeps nothing.
type statsRecorder struct{ dns.ResponseWriter }

func (statsRecorder) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(198, 18, 0, 9), Port: 5300}
}
func (statsRecorder) WriteMsg(m *dns.Msg) error { return nil }
