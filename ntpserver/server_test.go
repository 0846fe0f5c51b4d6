package ntpserver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// startServer serves cfg on 127.0.0.1 on an ephemeral port with two
// SO_REUSEPORT sockets, as Run would, and stops it when the test ends.
func startServer(t *testing.T, conf string) (*Server, netip.AddrPort) {
	t.Helper()
	cfg, _, err := config.ParseBytes("test.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewFromConfig(cfg, nil, nil)
	conns, _, err := Listen(context.Background(), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ap := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	more, _, err := Listen(context.Background(), []netip.AddrPort{ap}, 1)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, more...)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if err := srv.Serve(c); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	return srv, ap
}

// client is a UDP socket bound to a chosen loopback address.
func client(t *testing.T, from string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from+":0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends pkt and returns the reply, or nil if none came within wait.
func exchange(t *testing.T, c *net.UDPConn, to netip.AddrPort, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(pkt, to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil
		}
		if n >= wire.HeaderLen && len(pkt) >= wire.HeaderLen && binary.BigEndian.Uint64(buf[wire.OffOrigin:]) != binary.BigEndian.Uint64(pkt[wire.OffTransmit:]) {
			continue // a late reply to an earlier request
		}
		return buf[:n]
	}
}

func TestServerAnswersRealSocket(t *testing.T) {
	srv, ap := startServer(t, "local stratum 3\nallow 127.0.0.0/8\n")
	r, err := Query(testCtx(t), nil, ap.String(), 4, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Stratum != 3 || r.Header.RefID != wire.LocalRefID || r.ReplyBytes != wire.HeaderLen {
		t.Errorf("reply %+v", r.Header)
	}
	if r.Offset < -10*time.Millisecond || r.Offset > 10*time.Millisecond || r.Delay < 0 || r.Delay > 100*time.Millisecond {
		t.Errorf("offset %v delay %v against our own clock", r.Offset, r.Delay)
	}
	// The receive timestamp is the kernel's, taken before the transmit one.
	if !r.T2.After(r.T1.Add(-time.Millisecond)) || r.T3.Before(r.T2) {
		t.Errorf("timestamps out of order: T1 %v T2 %v T3 %v T4 %v", r.T1, r.T2, r.T3, r.T4)
	}
	if s := srv.Stats(); s.Answered != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestServerVersionsEchoed(t *testing.T) {
	_, ap := startServer(t, "local stratum 5\nallow\n")
	for v := uint8(1); v <= 4; v++ {
		r, err := Query(testCtx(t), nil, ap.String(), v, time.Now)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if r.Header.Version != v || r.Header.Stratum != 5 {
			t.Errorf("version %d: reply version %d stratum %d", v, r.Header.Version, r.Header.Stratum)
		}
	}
}

func TestServerUnsynchronisedWithoutLocal(t *testing.T) {
	_, ap := startServer(t, "allow 127.0.0.1\n")
	r, err := Query(testCtx(t), nil, ap.String(), 4, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Leap != wire.LeapUnsynchronised || r.Header.Stratum != wire.MaxStratum || r.Synchronised() {
		t.Errorf("header %+v, want leap 3 stratum 16", r.Header)
	}
}

func TestServerHostileInput(t *testing.T) {
	srv, ap := startServer(t, "local stratum 3\nallow 127.0.0.0/8\ndeny 127.0.0.66\n")
	c := client(t, "127.0.0.1")
	xmt := wire.TimeToNTP(time.Now())
	monlist := make([]byte, 192) // ntpdc's MON_GETLIST_1 request: mode 7, implementation 3, request 42
	monlist[0], monlist[1], monlist[2], monlist[3] = 0x17, 0x00, 0x03, 0x2a
	readvar := []byte{0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0} // ntpq: mode 6 read variables
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"mode 7 monlist", monlist},
		{"mode 6 readvar", readvar},
		{"mode 6 padded to a header", append(readvar, make([]byte, 36)...)},
		{"truncated", request(flags(0, 4, wire.ModeClient), xmt, 0)[:40]},
		{"one octet", []byte{0x23}},
		{"empty", []byte{}},
		{"oversized", request(flags(0, 4, wire.ModeClient), xmt, 1500)},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: ntpbox\r\n\r\n0123456789abcdef")},
		{"zero transmit", request(flags(0, 4, wire.ModeClient), 0, 0)},
		{"symmetric active", request(flags(0, 4, wire.ModeSymmetricActive), xmt, 0)},
		{"broadcast", request(flags(0, 4, wire.ModeBroadcast), xmt, 0)},
		{"server mode (reflection)", request(flags(0, 4, wire.ModeServer), xmt, 0)},
		{"version 5", request(flags(0, 5, wire.ModeClient), xmt, 0)},
		{"malformed extension", request(flags(0, 4, wire.ModeClient), xmt, 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := exchange(t, c, ap, tc.pkt, 200*time.Millisecond); r != nil {
				t.Errorf("answered %d octets to %d", len(r), len(tc.pkt))
			}
		})
	}
	t.Run("outside allow", func(t *testing.T) {
		d := client(t, "127.0.0.66")
		if r := exchange(t, d, ap, request(flags(0, 4, wire.ModeClient), xmt, 0), 200*time.Millisecond); r != nil {
			t.Errorf("denied client answered")
		}
	})
	t.Run("extension fields answered with the bare header", func(t *testing.T) {
		req := wire.AppendExtension(request(flags(0, 4, wire.ModeClient), xmt+7, 0), 0x0104, make([]byte, 60))
		r := exchange(t, c, ap, req, time.Second)
		if len(r) != wire.HeaderLen {
			t.Fatalf("reply of %d octets", len(r))
		}
	})
	// The server is still alive and answering after all that.
	r, err := Query(testCtx(t), nil, ap.String(), 4, time.Now)
	if err != nil || r.Header.Stratum != 3 {
		t.Fatalf("after hostile input: %v", err)
	}
	st := srv.Stats()
	if st.Dropped["control query"] != 2 || st.Dropped["denied"] != 1 || st.Dropped["too long"] != 1 {
		t.Errorf("drop counters %v", st.Dropped)
	}
}

func TestServerRateLimitFloodSparesOthers(t *testing.T) {
	// One response per 1/8 s per client, bursts of 8.
	srv, ap := startServer(t, "local stratum 3\nallow 127.0.0.0/8\nratelimit interval -3 burst 8 leak 2\n")
	flooder := client(t, "127.0.0.50")
	normal := client(t, "127.0.0.51")

	ctx, cancel := context.WithCancel(context.Background())
	var flooded sync.WaitGroup
	sent := 0
	flooded.Go(func() {
		// A bounded flood: 100 requests every 5 ms (20k/s) for 3 s at most.
		pkt := request(flags(0, 4, wire.ModeClient), 1, 0)
		for i := 0; i < 600 && ctx.Err() == nil; i++ {
			for j := 0; j < 100; j++ {
				binary.BigEndian.PutUint64(pkt[wire.OffTransmit:], uint64(i*100+j+1))
				flooder.WriteToUDPAddrPort(pkt, ap)
				sent++
			}
			time.Sleep(5 * time.Millisecond) // pacing of the load, not a wait for a condition
		}
	})
	var floodAnswers int
	var drained sync.WaitGroup
	drained.Go(func() {
		buf := make([]byte, 512)
		for {
			flooder.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := flooder.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			floodAnswers++
		}
	})
	// The normal client: an iburst of 4 at 0.25 s, then a poll every
	// 0.25 s — four per second, half the limit.
	lost := 0
	for i := 0; i < 10; i++ {
		req := request(flags(0, 4, wire.ModeClient), wire.TimeToNTP(time.Now()), 0)
		if exchange(t, normal, ap, req, time.Second) == nil {
			lost++
		}
		time.Sleep(250 * time.Millisecond) // the client's poll interval
	}
	cancel()
	flooded.Wait()
	drained.Wait()
	if lost != 0 {
		t.Errorf("normal client lost %d of 10 requests during the flood", lost)
	}
	if sent == 0 || float64(floodAnswers) > 0.4*float64(sent) {
		t.Errorf("flooder got %d answers to %d requests; want about a quarter (leak 2)", floodAnswers, sent)
	}
	t.Logf("flooder: %d sent, %d answered; stats %+v", sent, floodAnswers, srv.Stats())
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}
