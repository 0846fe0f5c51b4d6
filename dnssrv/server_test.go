package dnssrv

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serve runs r on 127.0.0.1:0 over UDP and TCP and returns the addresses.
func serve(t *testing.T, r dns.Handler) (udpAddr, tcpAddr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: r}, {Listener: l, Handler: r}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- s.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); <-done })
	}
	return pc.LocalAddr().String(), l.Addr().String()
}

func TestServerUDPAndTCP(t *testing.T) {
	small := testResponder(t)
	big, err := New(Config{Zone: "big.example", Servers: manyServers(60)})
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.Handle("time.example.", small)
	mux.Handle("big.example.", big)
	udp, tcp := serve(t, mux)

	for _, tc := range []struct {
		net, addr, name string
		answers         int
		truncated       bool
	}{
		{"udp", udp, "_ntp._udp.time.example.", 3, false},
		{"tcp", tcp, "_ntp._udp.time.example.", 3, false},
		{"udp", udp, "_ntp._udp.big.example.", -1, true},
		{"tcp", tcp, "_ntp._udp.big.example.", 60, false},
	} {
		c := &dns.Client{Net: tc.net, Timeout: 2 * time.Second}
		req := new(dns.Msg)
		req.SetQuestion(tc.name, dns.TypeSRV)
		resp, _, err := c.Exchange(req, tc.addr)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.net, tc.name, err)
		}
		if !resp.Authoritative || resp.RecursionAvailable || resp.Rcode != dns.RcodeSuccess || resp.Truncated != tc.truncated {
			t.Errorf("%s %s: header %+v", tc.net, tc.name, resp.MsgHdr)
		}
		if tc.answers >= 0 && len(resp.Answer) != tc.answers {
			t.Errorf("%s %s: %d answers, want %d", tc.net, tc.name, len(resp.Answer), tc.answers)
		}
	}

	// Outside the zone over UDP: REFUSED.
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion("ntp.example.", dns.TypeA)
	resp, _, err := c.Exchange(req, udp)
	if err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("out of zone: %v, %v", resp, err)
	}
}
