package dnssrv

import (
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// maxUDPSize is the EDNS buffer size the responder advertises (the DNS
// flag day 2020 value).
const maxUDPSize = 1232

// Responder answers queries for one zone. It is safe for concurrent use.
type Responder struct {
	zone string
	rrs  rrsets
	soa  *dns.SOA
	mux  *dns.ServeMux

	mu      sync.Mutex
	byType  map[string]uint64 // queries by question type
	byRcode map[string]uint64 // answers by rcode
}

// ResponderStats count the queries a Responder answered since it was
// made: by the question's type ("SRV", "A"; "none" without a
// question) and by the answer's rcode ("NOERROR", "NXDOMAIN",
// "REFUSED"...; "none" when nothing was sent).
type ResponderStats struct {
	ByType  map[string]uint64
	ByRcode map[string]uint64
}

// Stats returns a copy of the counters.
func (r *Responder) Stats() ResponderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ResponderStats{ByType: maps.Clone(r.byType), ByRcode: maps.Clone(r.byRcode)}
}

// Records are the zone's records in zone-file text, sorted.
func (r *Responder) Records() []string {
	var out []string
	for _, types := range r.rrs {
		for _, rrs := range types {
			for _, rr := range rrs {
				out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
			}
		}
	}
	sort.Strings(out)
	return out
}

// countingWriter remembers the rcode of the answer written.
type countingWriter struct {
	dns.ResponseWriter
	rcode int
}

func (c *countingWriter) WriteMsg(m *dns.Msg) error {
	c.rcode = m.Rcode
	return c.ResponseWriter.WriteMsg(m)
}

func (r *Responder) count(req *dns.Msg, rcode int) {
	qtype := "none"
	if len(req.Question) > 0 {
		qtype = dns.TypeToString[req.Question[0].Qtype]
		if qtype == "" {
			qtype = "TYPE" + strconv.Itoa(int(req.Question[0].Qtype))
		}
	}
	rc := "none"
	if rcode >= 0 {
		if rc = dns.RcodeToString[rcode]; rc == "" {
			rc = "RCODE" + strconv.Itoa(rcode)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byType == nil {
		r.byType, r.byRcode = map[string]uint64{}, map[string]uint64{}
	}
	// At most 65536 types and 4096 rcodes: the maps stay bounded.
	r.byType[qtype]++
	r.byRcode[rc]++
}

// New builds the zone from cfg.
func New(cfg Config) (*Responder, error) {
	zone, rrs, soa, err := buildZone(cfg)
	if err != nil {
		return nil, err
	}
	r := &Responder{zone: zone, rrs: rrs, soa: soa, mux: dns.NewServeMux()}
	r.mux.HandleFunc(zone, r.serveZone)
	r.mux.HandleFunc(".", r.refuse)
	return r, nil
}

// Zone is the zone's canonical name, e.g. "time.example.".
func (r *Responder) Zone() string { return r.zone }

// ServeDNS implements dns.Handler: it checks the header and question and
// dispatches on the private mux.
func (r *Responder) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if req.Response {
		return // never answer an answer
	}
	cw := &countingWriter{ResponseWriter: w, rcode: -1}
	defer func() { r.count(req, cw.rcode) }()
	w = cw
	m := new(dns.Msg)
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.SetRcode(req, dns.RcodeNotImplemented)
	case len(req.Question) != 1:
		m.SetRcode(req, dns.RcodeFormatError)
		m.Question = nil
	case req.IsEdns0() != nil && req.IsEdns0().Version() != 0:
		m.SetRcode(req, dns.RcodeBadVers)
	case req.Question[0].Qclass != dns.ClassINET && req.Question[0].Qclass != dns.ClassANY,
		req.Question[0].Qtype == dns.TypeAXFR, req.Question[0].Qtype == dns.TypeIXFR:
		m.SetRcode(req, dns.RcodeRefused)
	default:
		r.mux.ServeDNS(w, req)
		return
	}
	write(w, req, m)
}

func (r *Responder) refuse(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeRefused)
	write(w, req, m)
}

func (r *Responder) serveZone(w dns.ResponseWriter, req *dns.Msg) {
	write(w, req, r.answer(req))
}

// answer builds the authoritative reply to req's single question.
func (r *Responder) answer(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if !dns.IsSubDomain(r.zone, name) {
		m.Rcode, m.Authoritative = dns.RcodeRefused, false
		return m
	}
	sets := r.rrs[name]
	for t, rrs := range sets {
		if q.Qtype == t || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, rename(rrs, q.Name)...)
		}
	}
	if len(m.Answer) == 0 {
		if !r.rrs.exists(name) {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{r.negativeSOA()}
		return m
	}
	sortRRs(m.Answer)
	m.Extra = r.glue(m.Answer)
	return m
}

// rename copies rrs with the owner name spelled as in the question.
func rename(rrs []dns.RR, owner string) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = owner
	}
	return out
}

// negativeSOA is the SOA for the authority section of a negative answer,
// with the TTL RFC 2308 §3 asks for.
func (r *Responder) negativeSOA() dns.RR {
	soa := dns.Copy(r.soa).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return soa
}

// glue returns the addresses of the SRV targets and name servers in ans.
func (r *Responder) glue(ans []dns.RR) []dns.RR {
	var extra []dns.RR
	seen := map[string]bool{}
	for _, rr := range ans {
		var target string
		switch v := rr.(type) {
		case *dns.SRV:
			target = v.Target
		case *dns.NS:
			target = v.Ns
		default:
			continue
		}
		if seen[target] {
			continue
		}
		seen[target] = true
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			extra = append(extra, r.rrs[target][t]...)
		}
	}
	return extra
}

// sortRRs orders an ANY answer by type so replies are deterministic.
func sortRRs(rrs []dns.RR) {
	for i := 1; i < len(rrs); i++ {
		for j := i; j > 0 && rrs[j].Header().Rrtype < rrs[j-1].Header().Rrtype; j-- {
			rrs[j], rrs[j-1] = rrs[j-1], rrs[j]
		}
	}
}

// write finishes m for the transport and sends it: no recursion offered,
// EDNS(0) echoed, truncated over UDP to the client's buffer but never
// beyond maxUDPSize, to stay clear of IP fragmentation.
func write(w dns.ResponseWriter, req, m *dns.Msg) {
	m.RecursionAvailable = false
	m.Compress = true
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		m.SetEdns0(maxUDPSize, false) // Pack moves an extended rcode here
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	w.WriteMsg(m)
}
