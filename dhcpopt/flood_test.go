package dhcpopt

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// floodServer runs a server for a pool of 200 addresses on 127.0.0.1
// with a lease file and the given commit interval.
func floodServer(t *testing.T, interval time.Duration) (*Server, *Handler, string) {
	t.Helper()
	cfg := serverConfig()
	cfg.RangeStart, cfg.RangeEnd = netip.MustParseAddr("198.18.0.20"), netip.MustParseAddr("198.18.0.219")
	h := newHandler(t, cfg, nil)
	leaseFile := filepath.Join(t.TempDir(), "leases")
	srv, err := NewServer(listen(t), h, ServerConfig{LeaseFile: leaseFile, CommitInterval: interval,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() { srv.Close(); <-done })
	return srv, h, leaseFile
}

func randomMAC(r *rand.Rand) net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	for i := range mac {
		mac[i] = byte(r.UintN(256))
	}
	mac[0] = mac[0]&^1 | 2 // unicast, locally administered
	return mac
}

// TestServerFlood (issue 11): 3000 DISCOVERs from random MACs and 150
// REQUESTs cost at most one lease-file write per commit interval; every
// ACK is sent only once its lease is in the file; the server's
// goroutines stay a fixed pool.
func TestServerFlood(t *testing.T) {
	const interval = 200 * time.Millisecond
	srv, h, leaseFile := floodServer(t, interval)
	dst := srv.LocalAddr()
	c := listen(t)
	defer c.Close()
	r := rand.New(rand.NewPCG(1, 2))

	offers := map[[6]byte]*dhcpv4.DHCPv4{}
	var mu sync.Mutex
	acked := 0
	var ackErr []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 1500)
		for {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := dhcpv4.FromBytes(buf[:n])
			if err != nil {
				continue
			}
			mu.Lock()
			switch m.MessageType() {
			case dhcpv4.MessageTypeOffer:
				offers[[6]byte(m.ClientHWAddr)] = m
			case dhcpv4.MessageTypeAck:
				acked++
				// The ACK's lease must already be in the file.
				leases, err := LoadLeases(leaseFile)
				found := false
				for _, l := range leases {
					found = found || l.Client == "hw:"+m.ClientHWAddr.String() && l.Addr == addr4(m.YourIPAddr)
				}
				if err != nil || !found {
					ackErr = append(ackErr, m.ClientHWAddr.String())
				}
			}
			mu.Unlock()
		}
	}()

	start := time.Now()
	var macs []net.HardwareAddr
	for i := range 3000 {
		mac := randomMAC(r)
		macs = append(macs, mac)
		c.WriteTo(msg(t, dhcpv4.MessageTypeDiscover, mac).ToBytes(), dst)
		if i%100 == 99 {
			time.Sleep(5 * time.Millisecond) // let the pool drain: a flood, not a burst the socket drops
		}
	}
	time.Sleep(200 * time.Millisecond)
	requested := 0
	mu.Lock()
	var reqs []*dhcpv4.DHCPv4
	for _, mac := range macs {
		o, ok := offers[[6]byte(mac)]
		if !ok || len(reqs) == 150 {
			continue
		}
		reqs = append(reqs, msg(t, dhcpv4.MessageTypeRequest, mac,
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(o.ServerIdentifier())),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(o.YourIPAddr))))
	}
	mu.Unlock()
	for _, m := range reqs {
		c.WriteTo(m.ToBytes(), dst)
		requested++
		time.Sleep(2 * time.Millisecond)
	}
	<-readDone
	elapsed := time.Since(start)

	st, hs := srv.Stats(), h.Stats()
	t.Logf("%v: %d offers seen, %d requests, %d acks, %d lease-file writes, %d dropped; handler: %+v",
		elapsed.Round(time.Millisecond), len(offers), requested, acked, st.Writes, st.Dropped, hs)
	if requested < 100 {
		t.Fatalf("only %d offers to request (pool 200)", requested)
	}
	if acked != requested {
		t.Errorf("%d ACKs for %d REQUESTs", acked, requested)
	}
	if len(ackErr) > 0 {
		t.Errorf("%d ACKs arrived before their lease was in the file: %v", len(ackErr), ackErr[:min(5, len(ackErr))])
	}
	if max := uint64(elapsed/interval) + 1; st.Writes > max || st.Writes == 0 {
		t.Errorf("%d lease-file writes in %v: want 1..%d (one per %v)", st.Writes, elapsed, max, interval)
	}
}

// TestServerNoUnicastOffLink (issue 11): a request whose reply would go
// to an address off the LAN (a renewal from a ciaddr outside the subnet)
// gets no answer; the same request from inside is answered.
func TestServerNoUnicastOffLink(t *testing.T) {
	srv, h, _ := floodServer(t, 10*time.Millisecond)
	c := listen(t)
	defer c.Close()
	// Bind a lease for hwA at 198.18.0.20 first.
	resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0)
	if err != nil || resp == nil {
		t.Fatal(resp, err)
	}
	if _, err := handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwA,
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(resp.YourIPAddr))), t0); err != nil {
		t.Fatal(err)
	}
	for _, ci := range []net.IP{net.IPv4(198, 19, 5, 5), net.IPv4(198, 18, 1, 9)} {
		m := msg(t, dhcpv4.MessageTypeInform, hwB, dhcpv4.WithClientIP(ci))
		c.WriteTo(m.ToBytes(), srv.LocalAddr())
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats().OffLink+h.Stats().Ignored < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, from, err := c.ReadFrom(make([]byte, 1500)); err == nil {
		t.Errorf("an off-link request was answered: %d bytes from %v", n, from)
	}
	if got := h.Stats().Ignored + srv.Stats().OffLink; got != 2 {
		t.Errorf("ignored %d + off-link %d, want 2", h.Stats().Ignored, srv.Stats().OffLink)
	}
}

// TestServerQueueBounded: with its one worker stalled, the server keeps
// at most Queue requests and drops the rest, counting them.
func TestServerQueueBounded(t *testing.T) {
	cfg := serverConfig()
	stall := make(chan struct{})
	p := proberFunc(func(netip.Addr) bool { <-stall; return false })
	h := newHandler(t, cfg, p)
	srv, err := NewServer(listen(t), h, ServerConfig{Workers: 1, Queue: 8, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() { close(stall); srv.Close(); <-done }()
	c := listen(t)
	defer c.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		c.WriteTo(msg(t, dhcpv4.MessageTypeDiscover, randomMAC(r)).ToBytes(), srv.LocalAddr())
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats().Dropped < 100-8-1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// 1 in the worker, 8 queued, the rest dropped; one more when the
	// queue filled before the worker took its first.
	if got := srv.Stats().Dropped; got < 100-8-1 || got > 100-8 {
		t.Errorf("dropped %d, want %d or %d (1 in the worker, 8 queued)", got, 100-8-1, 100-8)
	}
}

type proberFunc func(netip.Addr) bool

func (f proberFunc) InUse(a netip.Addr) bool { return f(a) }

// TestStoredOptionCaps (issue 11): what a lease stores from a request is
// bounded: a client identifier longer than MaxClientID is malformed, and
// the host name is cut to one DNS label of safe characters.
func TestStoredOptionCaps(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	long := make([]byte, MaxClientID+1)
	if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA,
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(long))), t0); resp != nil || !errors.Is(err, ErrMalformed) {
		t.Errorf("client id of %d bytes: %v, %v; want malformed", len(long), resp, err)
	}
	name := strings.Repeat("a", 40) + "\n<script>é;" + strings.Repeat("b", 200)
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA,
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(long[:MaxClientID])), dhcpv4.WithOption(dhcpv4.OptHostName(name))), t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handle(t, h, msg(t, dhcpv4.MessageTypeRequest, hwA,
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(long[:MaxClientID])), dhcpv4.WithOption(dhcpv4.OptHostName(name)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr))), t0); err != nil {
		t.Fatal(err)
	}
	l := h.Leases()
	want := strings.Repeat("a", 40) + "--script----" + strings.Repeat("b", 11) // é is two bytes
	if len(l) != 1 || l[0].Hostname != want || len(l[0].Hostname) != MaxHostname {
		t.Errorf("leases %+v, want hostname %q", l, want)
	}
}

// TestServerDiscoverFloodDoesNotStarveOthers: with the workers slowed by
// the ARP check of each DISCOVER's address, an INFORM sent after 200
// DISCOVERs is answered before most of them: DISCOVERs wait in their own
// queue.
func TestServerDiscoverFloodDoesNotStarveOthers(t *testing.T) {
	cfg := serverConfig()
	cfg.RangeStart, cfg.RangeEnd = netip.MustParseAddr("198.18.0.20"), netip.MustParseAddr("198.18.0.250")
	var mu sync.Mutex
	probed := 0
	p := proberFunc(func(netip.Addr) bool {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		probed++
		mu.Unlock()
		return false
	})
	h := newHandler(t, cfg, p)
	srv, err := NewServer(listen(t), h, ServerConfig{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() { srv.Close(); <-done }()
	c := listen(t)
	defer c.Close()
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 200 {
		c.WriteTo(msg(t, dhcpv4.MessageTypeDiscover, randomMAC(r)).ToBytes(), srv.LocalAddr())
		if i%20 == 19 {
			time.Sleep(2 * time.Millisecond) // not beyond the socket's buffer
		}
	}
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().Received < 200 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	// The INFORM, retried as a client does, every 2 s.
	inform := msg(t, dhcpv4.MessageTypeInform, hwA, dhcpv4.WithClientIP(net.IPv4(127, 0, 0, 1))).ToBytes()
	buf := make([]byte, 1500)
	answered := false
	for try := 0; try < 10 && !answered; try++ {
		c.WriteTo(inform, srv.LocalAddr())
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			if m, err := dhcpv4.FromBytes(buf[:n]); err == nil && m.MessageType() == dhcpv4.MessageTypeAck {
				answered = true
				break
			}
		}
	}
	if !answered {
		t.Fatal("no reply to the INFORM")
	}
	mu.Lock()
	defer mu.Unlock()
	if offers := h.Stats().Offers; offers > 20 {
		t.Errorf("the INFORM was answered after %d of the 200 DISCOVERs", offers)
	}
}

// TestProbeNotRepeated: an address the prober found free is offered
// again within probeFresh without another probe, so a flood of
// DISCOVERs costs one probe per address.
func TestProbeNotRepeated(t *testing.T) {
	probes := 0
	h := newHandler(t, serverConfig(), proberFunc(func(netip.Addr) bool { probes++; return false }))
	for i := range 6 {
		hw := net.HardwareAddr{0x52, 0x54, 0, 0, 2, byte(i)}
		// Offers expire (offerHold) while new clients keep asking.
		if resp, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hw), t0.Add(time.Duration(i)*offerHold/2)); err != nil || resp == nil {
			t.Fatal(resp, err)
		}
	}
	if probes > 4 { // the range has 4 addresses
		t.Errorf("%d probes for 6 DISCOVERs over a range of 4", probes)
	}
}

// TestServerDropsOffLinkSource (issue 11): a request whose UDP source is
// off the LAN (spoofed; not relayed) binds nothing and gets nothing; the
// same from the LAN, from 0.0.0.0 or relayed is handled.
func TestServerDropsOffLinkSource(t *testing.T) {
	h := newHandler(t, serverConfig(), nil)
	srv, err := NewServer(listen(t), h, ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	offer, err := handle(t, h, msg(t, dhcpv4.MessageTypeDiscover, hwA), t0)
	if err != nil {
		t.Fatal(err)
	}
	req := msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip(box))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)))
	srv.serve(&net.UDPAddr{IP: net.IPv4(198, 19, 5, 5), Port: 68}, req)
	if l := h.Leases(); len(l) != 0 || srv.Stats().OffLink != 1 {
		t.Errorf("an off-link REQUEST: leases %v, off-link count %d", l, srv.Stats().OffLink)
	}
	for _, tc := range []struct {
		peer    net.IP
		relayed bool
		want    bool
	}{
		{net.IPv4(198, 19, 5, 5), false, false}, {net.IPv4(198, 18, 0, 77), false, true},
		{net.IPv4zero, false, true}, {net.IPv4(127, 0, 0, 1), false, true}, {net.IPv4(198, 19, 5, 5), true, true},
	} {
		m := msg(t, dhcpv4.MessageTypeRequest, hwA)
		if tc.relayed {
			m.GatewayIPAddr = net.IPv4(198, 18, 0, 254)
		}
		if got := srv.fromLAN(&net.UDPAddr{IP: tc.peer, Port: 68}, m); got != tc.want {
			t.Errorf("from %v relayed %v: %v, want %v", tc.peer, tc.relayed, got, tc.want)
		}
	}
}
