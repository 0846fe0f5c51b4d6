package dnssrv

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Found by name (issue 12): an mDNS responder (RFC 6762) for the box's
// host name, HOST.local (A records of its LAN address), and DNS-SD (RFC
// 6763) for its services: _services._dns-sd._udp.local lists their
// types, TYPE.local names the instance HOST.TYPE.local, which has an SRV
// record (HOST.local and the port) and a TXT record.
//
// What it answers, and how:
//   - a query from port 5353 is answered on the multicast group, each
//     record at most once a second (RFC 6762 §6); a question with the
//     unicast-response bit is answered to the asker directly (§5.4);
//   - a query from another port (a "legacy" resolver, dig or nslookup
//     sent to 224.0.0.251 -p 5353) is answered to its address and port,
//     with its ID and question and TTLs of at most 10 s (§6.7);
//   - only a source on the LAN's subnet is answered, and at most
//     mdnsMaxPerSecond answers go out a second in all: the box is no
//     amplifier, not even for a host on its LAN.
//
// At start the responder probes for its unique names (HOST.local and
// each service instance) three times, 250 ms apart (§8.1): another
// host's answer for one of them with other data is a conflict, and the
// responder takes the next name, HOST-2, HOST-3, ... (§9) and probes
// again. It answers nothing until its names are its own, then announces
// its records twice, a second apart (§8.3). At stop it says goodbye:
// its records with TTL 0 (§10.1). Simultaneous probes (§8.2's tie-break)
// are not compared: two boxes probing the same name in the same second
// both keep it, and the admin sees the conflict in the log. IPv4 only.

// mDNS's group and port (RFC 6762 §3).
var mdnsGroup4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

const (
	mdnsHostTTL      = 120  // seconds, A and SRV (RFC 6762 §10)
	mdnsServiceTTL   = 4500 // seconds, PTR and TXT
	mdnsLegacyTTL    = 10   // seconds, in answers to legacy queries
	mdnsMaxPerSecond = 50   // answers sent a second, in all
	mdnsMaxQuery     = 9000 // bytes of a query read (RFC 6762 §17)
)

// MDNSService is one service the box announces with DNS-SD.
type MDNSService struct {
	Type string   // "_ntp._udp", "_http._tcp"
	Port uint16   // 123, 80
	TXT  []string // key=value strings; empty gives one empty string (RFC 6763 §6.1)
}

// MDNSConfig is what the responder answers for.
type MDNSConfig struct {
	Host     string       // the host name without ".local": ntpbox-123456
	Addr     netip.Prefix // the box's IPv4 address on the LAN, and the LAN
	Services []MDNSService
	Logger   *slog.Logger // nil: discard
}

// MDNS answers mDNS queries; Answer is its pure part.
type MDNS struct {
	cfg      MDNSConfig
	mu       sync.Mutex
	host     string // fqdn: ntpbox-123456.local.; renamed on a conflict
	state    mdnsState
	renames  int
	conflict chan string   // a conflicting name seen while probing
	stop     chan struct{} // closed by Shutdown
	stopOnce sync.Once
	lastSent map[string]time.Time // name/type -> last multicast answer
	window   time.Time
	inWindow int
	stats    MDNSStats
}

// MDNSStats counts what the responder did.
type MDNSStats struct {
	Queries, Answered, Legacy, Ignored, Limited uint64
}

// NewMDNS checks cfg and returns a responder.
func NewMDNS(cfg MDNSConfig) (*MDNS, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := strings.ToLower(strings.TrimSuffix(cfg.Host, ".local"))
	if _, ok := dns.IsDomainName(h); !ok || h == "" || strings.Contains(h, ".") {
		return nil, fmt.Errorf("mdns: %q is not a host name of one label", cfg.Host)
	}
	if !cfg.Addr.IsValid() || !cfg.Addr.Addr().Is4() {
		return nil, fmt.Errorf("mdns: need the box's IPv4 address on the LAN, got %v", cfg.Addr)
	}
	for _, s := range cfg.Services {
		if !strings.HasPrefix(s.Type, "_") || !(strings.HasSuffix(s.Type, "._udp") || strings.HasSuffix(s.Type, "._tcp")) {
			return nil, fmt.Errorf("mdns: %q is not a DNS-SD service type (_name._udp or _name._tcp)", s.Type)
		}
	}
	return &MDNS{cfg: cfg, host: dns.Fqdn(h + ".local"), lastSent: map[string]time.Time{}, conflict: make(chan string, 1), stop: make(chan struct{})}, nil
}

// mdnsState is where the responder is in its life (RFC 6762 §8).
type mdnsState int

const (
	mdnsProbing   mdnsState = iota // answers nothing, watches for conflicts
	mdnsAnnounced                  // answers queries
	mdnsGone                       // said goodbye
)

// Host is the name the responder answers for, HOST.local. (fully
// qualified); it changes when probing finds the name taken.
func (m *MDNS) Host() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.host
}

// zone is a snapshot of the names and records the responder answers with.
func (m *MDNS) zone() mdnsZone {
	return mdnsZone{host: m.Host(), addr: m.cfg.Addr.Addr(), services: m.cfg.Services}
}

type mdnsZone struct {
	host     string
	addr     netip.Addr
	services []MDNSService
}

// Stats returns the counters.
func (m *MDNS) Stats() MDNSStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

func (z mdnsZone) instance(s MDNSService) string {
	return strings.TrimSuffix(z.host, ".local.") + "." + s.Type + ".local."
}

func (z mdnsZone) a(ttl uint32, flush bool) dns.RR {
	return &dns.A{Hdr: hdr(z.host, dns.TypeA, ttl, flush), A: z.addr.AsSlice()}
}

// unique are the names only this box may answer for: its host name and
// its service instances (RFC 6762 §8.1).
func (z mdnsZone) unique() []string {
	names := []string{z.host}
	for _, s := range z.services {
		names = append(names, z.instance(s))
	}
	return names
}

func hdr(name string, t uint16, ttl uint32, flush bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= 1 << 15 // cache-flush: a unique record (RFC 6762 §10.2)
	}
	return dns.RR_Header{Name: name, Rrtype: t, Class: class, Ttl: ttl}
}

// records answers one question: the answers, and the additional records
// DNS-SD expects with them (RFC 6763 §12).
func (z mdnsZone) records(q dns.Question, ttl func(uint32) uint32, flush bool) (ans, extra []dns.RR) {
	name := strings.ToLower(q.Name)
	want := func(t uint16) bool { return q.Qtype == t || q.Qtype == dns.TypeANY }
	srv := func(s MDNSService) dns.RR {
		return &dns.SRV{Hdr: hdr(z.instance(s), dns.TypeSRV, ttl(mdnsHostTTL), flush), Target: z.host, Port: s.Port}
	}
	txt := func(s MDNSService) dns.RR {
		t := s.TXT
		if len(t) == 0 {
			t = []string{""}
		}
		return &dns.TXT{Hdr: hdr(z.instance(s), dns.TypeTXT, ttl(mdnsServiceTTL), flush), Txt: t}
	}
	switch {
	case name == z.host:
		if want(dns.TypeA) {
			ans = append(ans, z.a(ttl(mdnsHostTTL), flush))
		}
	case name == "_services._dns-sd._udp.local.":
		if want(dns.TypePTR) {
			for _, s := range z.services {
				ans = append(ans, &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl(mdnsServiceTTL), false), Ptr: s.Type + ".local."})
			}
		}
	default:
		for _, s := range z.services {
			switch name {
			case strings.ToLower(s.Type) + ".local.":
				if want(dns.TypePTR) {
					ans = append(ans, &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl(mdnsServiceTTL), false), Ptr: z.instance(s)})
					extra = append(extra, srv(s), txt(s), z.a(ttl(mdnsHostTTL), flush))
				}
			case strings.ToLower(z.instance(s)):
				if want(dns.TypeSRV) {
					ans = append(ans, srv(s))
				}
				if want(dns.TypeTXT) {
					ans = append(ans, txt(s))
				}
				if len(ans) > 0 {
					extra = append(extra, z.a(ttl(mdnsHostTTL), flush))
				}
			}
		}
	}
	return ans, extra
}

// Answer is the response to query, or nil when the box has nothing to
// say. legacy is a query from a port other than 5353: the response then
// echoes its ID and questions, carries no cache-flush bits, and caps TTLs
// at 10 s (RFC 6762 §6.7). A record the query lists as a known answer
// with at least half its TTL left is left out (§7.1).
func (m *MDNS) Answer(query *dns.Msg, legacy bool) *dns.Msg {
	if query.Response || query.Opcode != dns.OpcodeQuery || query.Rcode != dns.RcodeSuccess || len(query.Question) == 0 {
		return nil
	}
	ttl := func(t uint32) uint32 { return t }
	if legacy {
		ttl = func(t uint32) uint32 { return min(t, mdnsLegacyTTL) }
	}
	known := map[string]uint32{}
	if !legacy {
		for _, rr := range query.Answer {
			known[rrKey(rr)] = rr.Header().Ttl
		}
	}
	z := m.zone()
	resp := new(dns.Msg)
	resp.Response, resp.Authoritative = true, true
	if legacy {
		resp.Id = query.Id
	}
	seen := map[string]bool{}
	for _, q := range query.Question {
		if q.Qclass&^(1<<15) != dns.ClassINET && q.Qclass&^(1<<15) != dns.ClassANY {
			continue
		}
		ans, extra := z.records(q, ttl, !legacy)
		for _, rr := range ans {
			k := rr.String()
			if t, ok := known[rrKey(rr)]; ok && t >= rr.Header().Ttl/2 {
				continue
			}
			if !seen[k] {
				seen[k] = true
				resp.Answer = append(resp.Answer, rr)
			}
		}
		for _, rr := range extra {
			if k := rr.String(); !seen[k] {
				seen[k] = true
				resp.Extra = append(resp.Extra, rr)
			}
		}
		if legacy {
			q.Qclass &^= 1 << 15
			resp.Question = append(resp.Question, q)
		}
	}
	if len(resp.Answer) == 0 {
		return nil
	}
	if len(resp.Extra) > 0 {
		// Additional records the answer section already has go once.
		extra := resp.Extra[:0]
		for _, rr := range resp.Extra {
			dup := false
			for _, a := range resp.Answer {
				dup = dup || rrKey(a) == rrKey(rr)
			}
			if !dup {
				extra = append(extra, rr)
			}
		}
		resp.Extra = extra
	}
	return resp
}

// rrKey is a record without its TTL and cache-flush bit: name, type and
// data, lower case.
func rrKey(rr dns.RR) string {
	c := dns.Copy(rr)
	c.Header().Ttl = 0
	c.Header().Class &^= 1 << 15
	return strings.ToLower(c.String())
}

// all is every record the box has, with their TTLs (ttl 0 gives the
// goodbye's): the A record, then for each service its PTR, SRV, TXT and
// its type's PTR under _services._dns-sd._udp.
func (z mdnsZone) all(goodbye bool) []dns.RR {
	ttl := func(t uint32) uint32 { return t }
	if goodbye {
		ttl = func(uint32) uint32 { return 0 }
	}
	rrs := []dns.RR{z.a(ttl(mdnsHostTTL), true)}
	for _, s := range z.services {
		ans, extra := z.records(dns.Question{Name: s.Type + ".local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}, ttl, true)
		rrs = append(rrs, ans...)
		for _, rr := range extra {
			if rr.Header().Rrtype != dns.TypeA {
				rrs = append(rrs, rr)
			}
		}
		rrs = append(rrs, &dns.PTR{Hdr: hdr("_services._dns-sd._udp.local.", dns.TypePTR, ttl(mdnsServiceTTL), false), Ptr: s.Type + ".local."})
	}
	return rrs
}

// Announcement is the unsolicited response that announces every record
// (RFC 6762 §8.3).
func (m *MDNS) Announcement() *dns.Msg {
	resp := new(dns.Msg)
	resp.Response, resp.Authoritative = true, true
	resp.Answer = m.zone().all(false)
	return resp
}

// Goodbye is the announcement with TTL 0: caches drop the records one
// second later (RFC 6762 §10.1).
func (m *MDNS) Goodbye() *dns.Msg {
	resp := new(dns.Msg)
	resp.Response, resp.Authoritative = true, true
	resp.Answer = m.zone().all(true)
	return resp
}

// allow reports whether one more answer may go now (mdnsMaxPerSecond),
// and for a multicast answer whether its records went out more than a
// second ago.
func (m *MDNS) allow(now time.Time, resp *dns.Msg, multicast bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.window) >= time.Second {
		m.window, m.inWindow = now, 0
	}
	if m.inWindow >= mdnsMaxPerSecond {
		m.stats.Limited++
		return false
	}
	if multicast {
		fresh := false
		for _, rr := range resp.Answer {
			k := rr.Header().Name + "/" + dns.TypeToString[rr.Header().Rrtype]
			if now.Sub(m.lastSent[k]) >= time.Second {
				fresh = true
			}
		}
		if !fresh {
			m.stats.Limited++
			return false
		}
		for _, rr := range resp.Answer {
			m.lastSent[rr.Header().Name+"/"+dns.TypeToString[rr.Header().Rrtype]] = now
		}
	}
	m.inWindow++
	return true
}
