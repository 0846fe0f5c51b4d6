package ntpserver

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// TestServerIPv6 serves on [::1] through the batched path (IPV6_PKTINFO
// control messages) and answers a client there.
func TestServerIPv6(t *testing.T) {
	cfg, _, err := config.ParseBytes("v6.conf", []byte("local stratum 4\nallow ::1\n"))
	if err != nil {
		t.Fatal(err)
	}
	conns, _, err := Listen(context.Background(), []netip.AddrPort{netip.MustParseAddrPort("[::1]:0")}, 1)
	if err != nil {
		t.Skipf("no IPv6 loopback on this host: %v", err)
	}
	srv := NewFromConfig(cfg, nil, nil)
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(conns[0]) })
	t.Cleanup(func() { conns[0].Close(); wg.Wait() })

	addr := conns[0].LocalAddr().(*net.UDPAddr).AddrPort().String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := Query(ctx, nil, addr, 4, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Stratum != 4 || r.Offset.Abs() > 10*time.Millisecond {
		t.Errorf("stratum %d offset %v", r.Header.Stratum, r.Offset)
	}
	if s := srv.Stats(); s.Answered != 1 {
		t.Errorf("stats %+v", s)
	}
}
