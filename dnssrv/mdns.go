package dnssrv

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/ntpbox/ntpbox/internal/backoff"
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
// At start the responder announces its records twice, a second apart
// (§8.3). It does not probe for name conflicts (§8.1): the names come
// from the box's MAC address or the admin's `hostname`. IPv4 only.

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
	host     string // fqdn: ntpbox-123456.local.
	mu       sync.Mutex
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
	return &MDNS{cfg: cfg, host: dns.Fqdn(h + ".local"), lastSent: map[string]time.Time{}}, nil
}

// Stats returns the counters.
func (m *MDNS) Stats() MDNSStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

func (m *MDNS) instance(s MDNSService) string {
	return strings.TrimSuffix(m.host, ".local.") + "." + s.Type + ".local."
}

func (m *MDNS) a(ttl uint32, flush bool) dns.RR {
	return &dns.A{Hdr: hdr(m.host, dns.TypeA, ttl, flush), A: m.cfg.Addr.Addr().AsSlice()}
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
func (m *MDNS) records(q dns.Question, ttl func(uint32) uint32, flush bool) (ans, extra []dns.RR) {
	name := strings.ToLower(q.Name)
	want := func(t uint16) bool { return q.Qtype == t || q.Qtype == dns.TypeANY }
	srv := func(s MDNSService) dns.RR {
		return &dns.SRV{Hdr: hdr(m.instance(s), dns.TypeSRV, ttl(mdnsHostTTL), flush), Target: m.host, Port: s.Port}
	}
	txt := func(s MDNSService) dns.RR {
		t := s.TXT
		if len(t) == 0 {
			t = []string{""}
		}
		return &dns.TXT{Hdr: hdr(m.instance(s), dns.TypeTXT, ttl(mdnsServiceTTL), flush), Txt: t}
	}
	switch {
	case name == m.host:
		if want(dns.TypeA) {
			ans = append(ans, m.a(ttl(mdnsHostTTL), flush))
		}
	case name == "_services._dns-sd._udp.local.":
		if want(dns.TypePTR) {
			for _, s := range m.cfg.Services {
				ans = append(ans, &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl(mdnsServiceTTL), false), Ptr: s.Type + ".local."})
			}
		}
	default:
		for _, s := range m.cfg.Services {
			switch name {
			case strings.ToLower(s.Type) + ".local.":
				if want(dns.TypePTR) {
					ans = append(ans, &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl(mdnsServiceTTL), false), Ptr: m.instance(s)})
					extra = append(extra, srv(s), txt(s), m.a(ttl(mdnsHostTTL), flush))
				}
			case strings.ToLower(m.instance(s)):
				if want(dns.TypeSRV) {
					ans = append(ans, srv(s))
				}
				if want(dns.TypeTXT) {
					ans = append(ans, txt(s))
				}
				if len(ans) > 0 {
					extra = append(extra, m.a(ttl(mdnsHostTTL), flush))
				}
			}
		}
	}
	return ans, extra
}

// Answer is the response to query, or nil when the box has nothing to
// say. legacy is a query from a port other than 5353: the response then
// echoes its ID and questions, carries no cache-flush bits, and caps TTLs
// at 10 s (RFC 6762 §6.7).
func (m *MDNS) Answer(query *dns.Msg, legacy bool) *dns.Msg {
	if query.Response || query.Opcode != dns.OpcodeQuery || query.Rcode != dns.RcodeSuccess || len(query.Question) == 0 {
		return nil
	}
	ttl := func(t uint32) uint32 { return t }
	if legacy {
		ttl = func(t uint32) uint32 { return min(t, mdnsLegacyTTL) }
	}
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
		ans, extra := m.records(q, ttl, !legacy)
		for _, rr := range ans {
			if k := rr.String(); !seen[k] {
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
	return resp
}

// Announcement is the unsolicited response that announces every record
// (RFC 6762 §8.3).
func (m *MDNS) Announcement() *dns.Msg {
	resp := new(dns.Msg)
	resp.Response, resp.Authoritative = true, true
	id := func(t uint32) uint32 { return t }
	resp.Answer = append(resp.Answer, m.a(mdnsHostTTL, true))
	for _, s := range m.cfg.Services {
		ans, extra := m.records(dns.Question{Name: s.Type + ".local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}, id, true)
		resp.Answer = append(resp.Answer, ans...)
		for _, rr := range extra {
			if rr.Header().Rrtype != dns.TypeA {
				resp.Answer = append(resp.Answer, rr)
			}
		}
		resp.Answer = append(resp.Answer, &dns.PTR{Hdr: hdr("_services._dns-sd._udp.local.", dns.TypePTR, mdnsServiceTTL, false), Ptr: s.Type + ".local."})
	}
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

// ListenMDNS opens UDP 5353 on every IPv4 address, shared with any other
// responder on the machine (SO_REUSEADDR, SO_REUSEPORT), and joins the
// mDNS group on the interface named ifname.
func ListenMDNS(ifname string) (*ipv4.PacketConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1),
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1))
		})
		return errors.Join(err, serr)
	}}
	c, err := lc.ListenPacket(nil, "udp4", "0.0.0.0:5353")
	if err != nil {
		return nil, fmt.Errorf("mdns: listen: %w", err)
	}
	p := ipv4.NewPacketConn(c)
	err = errors.Join(p.JoinGroup(ifi, mdnsGroup4), p.SetMulticastInterface(ifi), p.SetMulticastTTL(255),
		p.SetMulticastLoopback(false), p.SetControlMessage(ipv4.FlagInterface, true))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mdns: join %v on %s: %w", mdnsGroup4.IP, ifname, err)
	}
	return p, nil
}

// Serve announces the records, then answers queries on p until p is
// closed; it returns nil then. Read errors are waited out.
func (m *MDNS) Serve(p *ipv4.PacketConn) error {
	go func() {
		for i := range 2 {
			if i > 0 {
				time.Sleep(time.Second)
			}
			if b, err := m.Announcement().Pack(); err == nil {
				if _, err := p.WriteTo(b, nil, mdnsGroup4); err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					m.cfg.Logger.Warn("mdns: announce", "err", err)
				}
			}
		}
	}()
	buf := make([]byte, mdnsMaxQuery)
	var pause backoff.Backoff
	for {
		n, _, src, err := p.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			d := pause.Next()
			m.cfg.Logger.Warn("mdns: read", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		m.handle(p, buf[:n], src)
	}
}

func (m *MDNS) handle(p *ipv4.PacketConn, b []byte, src net.Addr) {
	u, ok := src.(*net.UDPAddr)
	if !ok {
		return
	}
	from, ok := netip.AddrFromSlice(u.IP)
	m.mu.Lock()
	m.stats.Queries++
	m.mu.Unlock()
	var q dns.Msg
	if !ok || !m.cfg.Addr.Masked().Contains(from.Unmap()) || from.Unmap() == m.cfg.Addr.Addr() || q.Unpack(b) != nil {
		m.count(func(s *MDNSStats) { s.Ignored++ })
		return
	}
	legacy := u.Port != 5353
	resp := m.Answer(&q, legacy)
	if resp == nil {
		return
	}
	unicast := legacy
	for _, qq := range q.Question {
		unicast = unicast || qq.Qclass&(1<<15) != 0
	}
	if !m.allow(time.Now(), resp, !unicast) {
		return
	}
	out, err := resp.Pack()
	if err != nil {
		return
	}
	dst := net.Addr(mdnsGroup4)
	if unicast {
		dst = u
	}
	if _, err := p.WriteTo(out, nil, dst); err != nil {
		m.cfg.Logger.Debug("mdns: answer", "to", dst, "err", err)
		return
	}
	m.count(func(s *MDNSStats) {
		s.Answered++
		if legacy {
			s.Legacy++
		}
	})
}

func (m *MDNS) count(f func(*MDNSStats)) {
	m.mu.Lock()
	f(&m.stats)
	m.mu.Unlock()
}
