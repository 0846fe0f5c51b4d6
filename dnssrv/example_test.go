package dnssrv_test

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/miekg/dns"
	"github.com/ntpbox/ntpbox/dnssrv"
)

// The responder publishes the NTP servers as SRV records. In the box it runs
// under dns.Server on UDP and TCP; here it answers an in-memory query.
func Example() {
	r, err := dnssrv.New(dnssrv.Config{
		Zone:    "time.example",
		Servers: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")},
	})
	if err != nil {
		panic(err)
	}
	req := new(dns.Msg)
	req.SetQuestion("_ntp._udp.time.example.", dns.TypeSRV)
	w := &writer{}
	r.ServeDNS(w, req)
	for _, rr := range append(w.msg.Answer, w.msg.Extra...) {
		fmt.Println(rr)
	}
	// Output:
	// _ntp._udp.time.example.	300	IN	SRV	10 10 123 ntp1.time.example.
	// _ntp._udp.time.example.	300	IN	SRV	10 10 123 ntp2.time.example.
	// ntp1.time.example.	300	IN	A	198.18.0.2
	// ntp2.time.example.	300	IN	A	198.18.0.3
}

// writer is the smallest dns.ResponseWriter: it keeps the reply.
type writer struct {
	dns.ResponseWriter // nil: only the methods below are called
	msg                *dns.Msg
}

func (w *writer) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *writer) RemoteAddr() net.Addr      { return &net.UDPAddr{} }
