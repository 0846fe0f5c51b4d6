package dnssrv

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func testMDNS(t *testing.T) *MDNS {
	t.Helper()
	m, err := NewMDNS(MDNSConfig{Host: "ntpbox-123456", Addr: netip.MustParsePrefix("198.18.0.2/24"),
		Services: []MDNSService{{Type: "_ntp._udp", Port: 123}, {Type: "_http._tcp", Port: 80, TXT: []string{"path=/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mquery(name string, t uint16, unicast bool) *dns.Msg {
	q := new(dns.Msg)
	q.Id = 0x1234
	q.Question = []dns.Question{{Name: dns.Fqdn(name), Qtype: t, Qclass: dns.ClassINET}}
	if unicast {
		q.Question[0].Qclass |= 1 << 15
	}
	return q
}

func rrs(rr []dns.RR) string {
	var s []string
	for _, r := range rr {
		s = append(s, r.String())
	}
	return strings.Join(s, "\n")
}

func TestMDNSAnswers(t *testing.T) {
	m := testMDNS(t)
	// The host name, as avahi-resolve -n asks it.
	r := m.Answer(mquery("NTPBOX-123456.local", dns.TypeA, false), false)
	if r == nil || len(r.Answer) != 1 || r.Id != 0 || len(r.Question) != 0 || !r.Authoritative ||
		r.Answer[0].(*dns.A).A.String() != "198.18.0.2" || r.Answer[0].Header().Class != dns.ClassINET|1<<15 || r.Answer[0].Header().Ttl != 120 {
		t.Fatalf("A: %v", r)
	}
	// Service browsing, as avahi-browse -r _ntp._udp does: PTR, then
	// SRV, TXT and A in the additional section.
	r = m.Answer(mquery("_ntp._udp.local", dns.TypePTR, false), false)
	if r == nil || len(r.Answer) != 1 || r.Answer[0].(*dns.PTR).Ptr != "ntpbox-123456._ntp._udp.local." || len(r.Extra) != 3 {
		t.Fatalf("PTR _ntp._udp:\n%v", r)
	}
	if s := rrs(r.Extra); !strings.Contains(s, "SRV\t0 0 123 ntpbox-123456.local.") || !strings.Contains(s, "TXT\t\"\"") || !strings.Contains(s, "198.18.0.2") {
		t.Errorf("additional records:\n%s", s)
	}
	r = m.Answer(mquery("_services._dns-sd._udp.local", dns.TypePTR, false), false)
	if r == nil || len(r.Answer) != 2 {
		t.Fatalf("service types: %v", r)
	}
	r = m.Answer(mquery("ntpbox-123456._http._tcp.local", dns.TypeANY, false), false)
	if s := rrs(r.Answer); r == nil || !strings.Contains(s, "SRV\t0 0 80 ntpbox-123456.local.") || !strings.Contains(s, `"path=/"`) {
		t.Fatalf("instance ANY: %v", r)
	}
	// Legacy (dig @224.0.0.251 -p 5353): ID and question echoed, TTL
	// at most 10 s, no cache-flush bit.
	r = m.Answer(mquery("ntpbox-123456.local", dns.TypeA, false), true)
	if r == nil || r.Id != 0x1234 || len(r.Question) != 1 || r.Answer[0].Header().Ttl != 10 || r.Answer[0].Header().Class != dns.ClassINET {
		t.Fatalf("legacy: %v", r)
	}
	// Nothing to say: other names, other types, responses, other opcodes.
	for _, q := range []*dns.Msg{
		mquery("other.local", dns.TypeA, false),
		mquery("ntpbox-123456.local", dns.TypeAAAA, false),
		mquery("_ssh._tcp.local", dns.TypePTR, false),
		func() *dns.Msg { q := mquery("ntpbox-123456.local", dns.TypeA, false); q.Response = true; return q }(),
		func() *dns.Msg {
			q := mquery("ntpbox-123456.local", dns.TypeA, false)
			q.Opcode = dns.OpcodeUpdate
			return q
		}(),
		new(dns.Msg),
	} {
		if r := m.Answer(q, false); r != nil {
			t.Errorf("%v answered:\n%v", q.Question, r)
		}
	}
	// The announcement carries every record.
	s := rrs(m.Announcement().Answer)
	for _, want := range []string{"198.18.0.2", "PTR\tntpbox-123456._ntp._udp.local.", "PTR\tntpbox-123456._http._tcp.local.", "SRV\t0 0 123", "_services._dns-sd._udp.local."} {
		if !strings.Contains(s, want) {
			t.Errorf("announcement lacks %q:\n%s", want, s)
		}
	}
}

// A record goes to the group at most once a second, and at most
// mdnsMaxPerSecond answers a second go out in all.
func TestMDNSRateLimits(t *testing.T) {
	m := testMDNS(t)
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	r := m.Answer(mquery("ntpbox-123456.local", dns.TypeA, false), false)
	if !m.allow(now, r, true) || m.allow(now.Add(500*time.Millisecond), r, true) || !m.allow(now.Add(1100*time.Millisecond), r, true) {
		t.Error("multicast answers of one record are not one a second")
	}
	m = testMDNS(t)
	n := 0
	for range 200 {
		if m.allow(now, r, false) {
			n++
		}
	}
	if n != mdnsMaxPerSecond || !m.allow(now.Add(time.Second), r, false) {
		t.Errorf("%d unicast answers in one second, want %d", n, mdnsMaxPerSecond)
	}
}

func TestNewMDNSChecks(t *testing.T) {
	for _, c := range []MDNSConfig{
		{Host: "two.labels", Addr: netip.MustParsePrefix("198.18.0.2/24")},
		{Host: "", Addr: netip.MustParsePrefix("198.18.0.2/24")},
		{Host: "ntpbox", Addr: netip.MustParsePrefix("2001:2::1/64")},
		{Host: "ntpbox", Addr: netip.MustParsePrefix("198.18.0.2/24"), Services: []MDNSService{{Type: "ntp"}}},
	} {
		if _, err := NewMDNS(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// FuzzMDNS: any datagram, as a query: Answer never panics, and what it
// answers packs.
func FuzzMDNS(f *testing.F) {
	for _, q := range []*dns.Msg{mquery("ntpbox-123456.local", dns.TypeA, false), mquery("_ntp._udp.local", dns.TypePTR, true)} {
		b, _ := q.Pack()
		f.Add(b)
	}
	m, _ := NewMDNS(MDNSConfig{Host: "ntpbox-123456", Addr: netip.MustParsePrefix("198.18.0.2/24"), Services: []MDNSService{{Type: "_ntp._udp", Port: 123}}})
	f.Fuzz(func(t *testing.T, b []byte) {
		var q dns.Msg
		if q.Unpack(b) != nil {
			return
		}
		for _, legacy := range []bool{false, true} {
			if r := m.Answer(&q, legacy); r != nil {
				if _, err := r.Pack(); err != nil {
					t.Fatalf("answer does not pack: %v\n%v", err, r)
				}
			}
		}
	})
}

// The records' classes and TTLs, as avahi caches them: the cache-flush
// bit on the unique records (A, SRV, TXT), not on the shared PTRs; 120 s
// for the host's records (A, SRV), 4500 s for the others (RFC 6762 §10).
func TestMDNSFlushAndTTLs(t *testing.T) {
	m := testMDNS(t)
	rrs := m.Announcement().Answer
	types := map[uint16]int{}
	for _, rr := range rrs {
		h := rr.Header()
		types[h.Rrtype]++
		flush := h.Class&(1<<15) != 0
		var wantTTL uint32 = 4500
		if h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeSRV {
			wantTTL = 120
		}
		if flush != (h.Rrtype != dns.TypePTR) || h.Ttl != wantTTL {
			t.Errorf("%v: cache-flush %v, TTL %d (want TTL %d)", rr, flush, h.Ttl, wantTTL)
		}
	}
	// A, and per service (_ntp._udp, _http._tcp): PTR, SRV, TXT and the
	// type's PTR under _services._dns-sd._udp.
	if types[dns.TypeA] != 1 || types[dns.TypePTR] != 4 || types[dns.TypeSRV] != 2 || types[dns.TypeTXT] != 2 {
		t.Errorf("announcement has %v", types)
	}
	for _, rr := range m.Goodbye().Answer {
		if rr.Header().Ttl != 0 {
			t.Errorf("goodbye: %v", rr)
		}
	}
	if len(m.Goodbye().Answer) != len(rrs) {
		t.Errorf("goodbye has %d records, the announcement %d", len(m.Goodbye().Answer), len(rrs))
	}
	// _http._tcp's TXT is path=/, with SRV, TXT and A as additional
	// records of its PTR.
	r := m.Answer(mquery("_http._tcp.local", dns.TypePTR, false), false)
	if s := rrs2(r); r == nil || !strings.Contains(s, "ntpbox-123456._http._tcp.local.\t4500\tCLASS32769\tTXT\t\"path=/\"") ||
		!strings.Contains(s, "ntpbox-123456._http._tcp.local.\t120\tCLASS32769\tSRV\t0 0 80 ntpbox-123456.local.") ||
		!strings.Contains(s, "PTR\tntpbox-123456._http._tcp.local.") || len(r.Extra) != 3 {
		t.Errorf("_http._tcp PTR:\n%s", s)
	}
}

func rrs2(r *dns.Msg) string {
	if r == nil {
		return ""
	}
	return rrs(r.Answer) + "\n" + rrs(r.Extra)
}

// Known-answer suppression (RFC 6762 §7.1): a record the querier lists
// with at least half its TTL left is not sent again; with less, it is.
func TestMDNSKnownAnswers(t *testing.T) {
	m := testMDNS(t)
	q := mquery("_ntp._udp.local", dns.TypePTR, false)
	ptr := &dns.PTR{Hdr: dns.RR_Header{Name: "_ntp._udp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4000}, Ptr: "ntpbox-123456._ntp._udp.local."}
	q.Answer = []dns.RR{ptr}
	if r := m.Answer(q, false); r != nil {
		t.Errorf("known answer sent again:\n%v", r)
	}
	ptr.Hdr.Ttl = 2000
	if r := m.Answer(q, false); r == nil || len(r.Answer) != 1 {
		t.Errorf("known answer with less than half its TTL: %v", r)
	}
	// Another box's PTR in the known answers does not suppress ours.
	ptr.Hdr.Ttl, ptr.Ptr = 4500, "other._ntp._udp.local."
	if r := m.Answer(q, false); r == nil || len(r.Answer) != 1 {
		t.Errorf("another instance suppressed ours: %v", r)
	}
}

// Probing (RFC 6762 §8.1): a QU question of type ANY for each unique
// name, the proposed records in the authority section; another host's
// answer with other data is a conflict, and the box takes HOST-2, then
// HOST-3.
func TestMDNSProbeAndConflict(t *testing.T) {
	m := testMDNS(t)
	p := m.Probe()
	if p.Response || len(p.Question) != 3 || len(p.Ns) != 5 {
		t.Fatalf("probe:\n%v", p)
	}
	for _, q := range p.Question {
		if q.Qtype != dns.TypeANY || q.Qclass != dns.ClassINET|1<<15 {
			t.Errorf("probe question %v", q)
		}
	}
	names := map[string]bool{}
	for _, q := range p.Question {
		names[q.Name] = true
	}
	for _, n := range []string{"ntpbox-123456.local.", "ntpbox-123456._ntp._udp.local.", "ntpbox-123456._http._tcp.local."} {
		if !names[n] {
			t.Errorf("probe does not ask for %s", n)
		}
	}
	other := func(name string, a string) *dns.Msg {
		r := new(dns.Msg)
		r.Response = true
		r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET | 1<<15, Ttl: 120}, A: net.ParseIP(a)}}
		return r
	}
	if c := m.Conflict(other("NTPBOX-123456.local.", "198.18.0.9")); c != "ntpbox-123456.local." {
		t.Errorf("conflict: %q", c)
	}
	for _, r := range []*dns.Msg{
		other("ntpbox-123456.local.", "198.18.0.2"), // the same record: no conflict
		other("printer.local.", "198.18.0.9"),
		func() *dns.Msg { r := other("ntpbox-123456.local.", "198.18.0.9"); r.Response = false; return r }(),
	} {
		if c := m.Conflict(r); c != "" {
			t.Errorf("%v: conflict %q", r, c)
		}
	}
	if h := m.rename(); h != "ntpbox-123456-2.local." || m.Host() != h {
		t.Errorf("first rename: %s", h)
	}
	if h := m.rename(); h != "ntpbox-123456-3.local." {
		t.Errorf("second rename: %s", h)
	}
	if r := m.Answer(mquery("ntpbox-123456-3._ntp._udp.local", dns.TypeSRV, false), false); r == nil || r.Answer[0].(*dns.SRV).Target != "ntpbox-123456-3.local." {
		t.Errorf("renamed instance: %v", r)
	}
}
