package dnssrv

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Probing and conflicts (RFC 6762 §8.1, §9): the pure part.

// Probe is the query that asks whether another host has the box's
// unique names (RFC 6762 §8.1): a question of type ANY for each, with the
// unicast-response bit, and the records the box means to have in the
// authority section (§8.2).
func (m *MDNS) Probe() *dns.Msg {
	z := m.zone()
	q := new(dns.Msg)
	for _, name := range z.unique() {
		q.Question = append(q.Question, dns.Question{Name: name, Qtype: dns.TypeANY, Qclass: dns.ClassINET | 1<<15})
	}
	for _, rr := range z.all(false) {
		if rr.Header().Class&(1<<15) != 0 {
			rr = dns.Copy(rr)
			rr.Header().Class &^= 1 << 15
			q.Ns = append(q.Ns, rr)
		}
	}
	return q
}

// Conflict is the first of the box's unique names that msg, a response
// from another host, has a record for with other data than the box's
// (RFC 6762 §9); "" if none. The same record from another responder
// (a second ntpbox of the same box) is no conflict.
func (m *MDNS) Conflict(msg *dns.Msg) string {
	if !msg.Response {
		return ""
	}
	z := m.zone()
	ours := map[string]bool{}
	for _, rr := range z.all(false) {
		ours[rrKey(rr)] = true
	}
	unique := map[string]bool{}
	for _, n := range z.unique() {
		unique[strings.ToLower(n)] = true
	}
	for _, rr := range append(append([]dns.RR{}, msg.Answer...), msg.Extra...) {
		name := strings.ToLower(rr.Header().Name)
		if unique[name] && rr.Header().Class&^(1<<15) == dns.ClassINET && !ours[rrKey(rr)] {
			switch rr.Header().Rrtype {
			case dns.TypeNSEC, dns.TypeOPT:
				continue
			}
			return name
		}
	}
	return ""
}

// rename gives the box the next host name after a conflict (RFC 6762
// §9): ntpbox-123456 becomes ntpbox-123456-2, then -3.
func (m *MDNS) rename() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	base := strings.TrimSuffix(m.host, ".local.")
	n := 2
	if i := strings.LastIndexByte(base, '-'); i > 0 && m.renames > 0 {
		fmt.Sscanf(base[i+1:], "%d", &n)
		base, n = base[:i], n+1
	}
	m.renames++
	m.host = base + "-" + fmt.Sprint(n) + ".local."
	return m.host
}
