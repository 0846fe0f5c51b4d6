package appliance

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// scriptedServer plays a DHCP server for the client, in synctest's
// bubble: it leases addr for lease, and NAKs a request for any other.
type scriptedServer struct {
	mu     sync.Mutex
	addr   net.IP
	lease  time.Duration
	down   bool // answers nothing
	got    []*dhcpv4.DHCPv4
	server net.IP
}

func (s *scriptedServer) set(f func(s *scriptedServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Exchange answers at once, or, when down, waits as nclient4 would
// through its three tries (2+4+8 s).
func (s *scriptedServer) Exchange(ctx context.Context, msg *dhcpv4.DHCPv4, to netip.Addr, accept func(*dhcpv4.DHCPv4) bool) (*dhcpv4.DHCPv4, error) {
	s.mu.Lock()
	s.got = append(s.got, msg)
	down, addr, lease, server := s.down, s.addr, s.lease, s.server
	s.mu.Unlock()
	if down {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(14 * time.Second):
			return nil, context.DeadlineExceeded
		}
	}
	reply := func(t dhcpv4.MessageType, yiaddr net.IP) *dhcpv4.DHCPv4 {
		r, _ := dhcpv4.NewReplyFromRequest(msg, dhcpv4.WithMessageType(t), dhcpv4.WithYourIP(yiaddr),
			dhcpv4.WithServerIP(server), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)),
			dhcpv4.WithLeaseTime(uint32(lease/time.Second)), dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(server), dhcpv4.WithDNS(server), dhcpv4.WithOption(dhcpv4.OptNTPServers(server)))
		return r
	}
	var r *dhcpv4.DHCPv4
	switch msg.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		r = reply(dhcpv4.MessageTypeOffer, addr)
	case dhcpv4.MessageTypeRequest:
		want := msg.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = msg.ClientIPAddr
		}
		if want.Equal(addr) {
			r = reply(dhcpv4.MessageTypeAck, addr)
		} else {
			r = reply(dhcpv4.MessageTypeNak, net.IPv4zero)
		}
	}
	if r == nil || !accept(r) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return r, nil
}

func (s *scriptedServer) Close() error { return nil }

// messages lists the types of what the client sent, with the address
// each asked for.
func (s *scriptedServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.got {
		a := m.RequestedIPAddress()
		if a == nil {
			a = m.ClientIPAddr
		}
		out = append(out, m.MessageType().String()+" "+a.String())
	}
	return out
}

type clientRig struct {
	srv    *scriptedServer
	events chan LeaseEvent
	linkUp chan struct{}
	start  time.Time
}

func runClient(t *testing.T, ctx context.Context, srv *scriptedServer) *clientRig {
	r := &clientRig{srv: srv, events: make(chan LeaseEvent, 16), linkUp: make(chan struct{}, 1), start: time.Now()}
	c := &dhcpClient{tr: srv, mac: fakeMAC, ifname: "eth0", hostname: "ntpbox-abcdef",
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, events: r.events, linkUp: r.linkUp}
	go c.run(ctx)
	return r
}

// next waits for the client's next event and says when it came.
func (r *clientRig) next(t *testing.T) (LeaseEvent, time.Duration) {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev, time.Since(r.start)
	case <-time.After(time.Hour):
		t.Fatal("no lease event within an hour")
		return LeaseEvent{}, 0
	}
}

func newServer(addr string, lease time.Duration) *scriptedServer {
	return &scriptedServer{addr: net.ParseIP(addr).To4(), lease: lease, server: net.IPv4(198, 18, 0, 1).To4()}
}

// A LAN whose DHCP server comes back 100 s after the box: the box takes
// its lease within a few seconds of its return, without a restart.
func TestDHCPClientLateServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := newServer("198.18.0.50", 2*time.Minute)
		srv.down = true
		r := runClient(t, ctx, srv)
		time.Sleep(100 * time.Second)
		srv.set(func(s *scriptedServer) { s.down = false })
		ev, at := r.next(t)
		if ev.Lease == nil || ev.Lease.Address != netip.MustParsePrefix("198.18.0.50/24") {
			t.Fatalf("event %+v", ev)
		}
		if at > 100*time.Second+30*time.Second {
			t.Errorf("lease taken %v after the server came back, want under 30 s", at-100*time.Second)
		}
		l := ev.Lease
		if l.Router != netip.MustParseAddr("198.18.0.1") || len(l.NTP) != 1 || len(l.DNS) != 1 || l.Duration != 2*time.Minute {
			t.Errorf("lease %+v", l)
		}
		for _, m := range srv.got {
			if m.HostName() != "ntpbox-abcdef" {
				t.Fatalf("%v without the host name (option 12)", m.MessageType())
			}
		}
	})
}

// Renewal at T1; a NAK to a renewal (the server moved the box) removes
// the address and the client takes the new one; a server that stops
// answering lets the lease expire.
func TestDHCPClientRenewNakExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := newServer("198.18.0.50", 2*time.Minute)
		r := runClient(t, ctx, srv)
		if ev, _ := r.next(t); ev.Lease == nil {
			t.Fatalf("first event %+v", ev)
		}
		ev, at := r.next(t)
		if !ev.TimesOnly || at < 60*time.Second || at > 61*time.Second {
			t.Errorf("renewal %+v at %v, want at T1 = 60 s", ev, at)
		}
		srv.set(func(s *scriptedServer) { s.addr = net.ParseIP("198.18.1.60").To4() })
		ev, _ = r.next(t)
		if ev.Lease != nil {
			t.Fatalf("after the server moved the box: %+v, want the lease lost on a NAK", ev)
		}
		ev, at2 := r.next(t)
		if ev.Lease == nil || ev.Lease.Address != netip.MustParsePrefix("198.18.1.60/24") || at2-at > 70*time.Second {
			t.Fatalf("new lease %+v %v after the NAK", ev, at2-at)
		}
		srv.set(func(s *scriptedServer) { s.down = true })
		gone := time.Now()
		ev, _ = r.next(t)
		if ev.Lease != nil || time.Since(gone) > 2*time.Minute {
			t.Errorf("%+v %v after the server went: want the lease lost at its end", ev, time.Since(gone))
		}
	})
}

// When the link comes back up the client asks for its address again
// (INIT-REBOOT); a NAK there ends the lease at once.
func TestDHCPClientLinkUpReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := newServer("198.18.0.50", time.Hour)
		r := runClient(t, ctx, srv)
		r.next(t)
		time.Sleep(time.Minute)
		srv.set(func(s *scriptedServer) { s.addr = net.ParseIP("198.18.2.70").To4() }) // another LAN
		r.linkUp <- struct{}{}
		ev, at := r.next(t)
		if ev.Lease != nil || at > time.Minute+time.Second {
			t.Fatalf("after link up on another LAN: %+v at %v", ev, at)
		}
		ev, _ = r.next(t)
		if ev.Lease == nil || ev.Lease.Address != netip.MustParsePrefix("198.18.2.70/24") {
			t.Fatalf("%+v", ev)
		}
		msgs := srv.messages()
		if want := "REQUEST 198.18.0.50"; msgs[2] != want {
			t.Errorf("messages %q: want the third an INIT-REBOOT %s", msgs, want)
		}
	})
}
