package dnssrv

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Defaults for Config fields left zero.
const (
	DefaultTTL    = 300
	DefaultSerial = 1
	NTPPort       = 123
)

// Config describes the zone.
type Config struct {
	// Zone is the domain the responder is authoritative for, e.g.
	// "time.example".
	Zone string
	// Servers are the advertised NTP servers: ntp1.ZONE, ntp2.ZONE, ...
	Servers []netip.Addr
	// NS are the addresses of the zone's name server ns.ZONE (the box);
	// none means Servers[0].
	NS []netip.Addr
	// TTL of every record and of negative answers; 0 means DefaultTTL.
	TTL uint32
	// Serial of the SOA; 0 means DefaultSerial.
	Serial uint32
}

// rrsets maps an owner name (lower case, absolute) to its records by type.
type rrsets map[string]map[uint16][]dns.RR

func (z rrsets) add(rr dns.RR) {
	name := dns.CanonicalName(rr.Header().Name)
	if z[name] == nil {
		z[name] = map[uint16][]dns.RR{}
	}
	t := rr.Header().Rrtype
	z[name][t] = append(z[name][t], rr)
}

// buildZone validates cfg and returns the zone's canonical name, records
// and SOA.
func buildZone(cfg Config) (string, rrsets, *dns.SOA, error) {
	zone := dns.CanonicalName(cfg.Zone)
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." || strings.TrimSpace(cfg.Zone) == "" {
		return "", nil, nil, fmt.Errorf("dnssrv: bad zone %q", cfg.Zone)
	}
	if len(cfg.Servers) == 0 {
		return "", nil, nil, errors.New("dnssrv: no NTP servers")
	}
	ns := cfg.NS
	if len(ns) == 0 {
		ns = cfg.Servers[:1]
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	serial := cfg.Serial
	if serial == 0 {
		serial = DefaultSerial
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	z := rrsets{}
	nsName := "ns." + zone
	soa := &dns.SOA{Hdr: hdr(zone, dns.TypeSOA), Ns: nsName, Mbox: "hostmaster." + zone,
		Serial: serial, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl}
	z.add(soa)
	z.add(&dns.NS{Hdr: hdr(zone, dns.TypeNS), Ns: nsName})
	for _, a := range ns {
		rr, err := addrRR(hdr, nsName, a)
		if err != nil {
			return "", nil, nil, err
		}
		z.add(rr)
	}
	for i, a := range cfg.Servers {
		target := "ntp" + strconv.Itoa(i+1) + "." + zone
		rr, err := addrRR(hdr, target, a)
		if err != nil {
			return "", nil, nil, err
		}
		z.add(rr)
		z.add(&dns.SRV{Hdr: hdr("_ntp._udp."+zone, dns.TypeSRV), Priority: 10, Weight: 10, Port: NTPPort, Target: target})
	}
	return zone, z, soa, nil
}

func addrRR(hdr func(string, uint16) dns.RR_Header, name string, a netip.Addr) (dns.RR, error) {
	switch {
	case a.Is4() || a.Is4In6():
		return &dns.A{Hdr: hdr(name, dns.TypeA), A: a.Unmap().AsSlice()}, nil
	case a.Is6():
		return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: a.AsSlice()}, nil
	}
	return nil, fmt.Errorf("dnssrv: bad address %v", a)
}

// exists reports whether name owns records or is an empty non-terminal
// (such as _udp.ZONE), so that a miss is NODATA rather than NXDOMAIN.
func (z rrsets) exists(name string) bool {
	if _, ok := z[name]; ok {
		return true
	}
	for owner := range z {
		if strings.HasSuffix(owner, "."+name) {
			return true
		}
	}
	return false
}
