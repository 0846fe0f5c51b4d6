package dhcpopt

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

func listen(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerLoopback runs a DORA exchange and an INFORM through the UDP
// wrapper with nclient4 on 127.0.0.1.
func TestServerLoopback(t *testing.T) {
	cfg := serverConfig()
	h := newHandler(t, cfg, nil)
	leaseFile := filepath.Join(t.TempDir(), "leases")
	srv, err := NewServer(listen(t), h, ServerConfig{
		LeaseFile: leaseFile,
		Now:       func() time.Time { return t0 },
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() { srv.Close(); <-done })
	srvAddr := srv.LocalAddr().(*net.UDPAddr)

	client, err := nclient4.NewWithConn(listen(t), hwA,
		nclient4.WithServerAddr(srvAddr), nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	lease, err := client.Request(ctx, dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	if err != nil {
		t.Fatal(err)
	}
	if got := addr4(lease.ACK.YourIPAddr); got != cfg.RangeStart {
		t.Errorf("leased %v, want %v", got, cfg.RangeStart)
	}
	if got := addrsOf(lease.ACK.NTPServers()); !slices.Equal(got, cfg.NTPServers) {
		t.Errorf("option 42 = %v", got)
	}

	// The lease reached the file.
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := LoadLeases(leaseFile)
		if err == nil && len(got) == 1 && got[0].Addr == cfg.RangeStart {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease file: %v, %v", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// INFORM from a client that has 127.0.0.1 as its address.
	ack, err := client.Inform(ctx, net.IPv4(127, 0, 0, 1), dhcpv4.WithRequestedOptions(dhcpv4.OptionNTPServers))
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(ack.NTPServers()); !slices.Equal(got, cfg.NTPServers) || !ack.YourIPAddr.IsUnspecified() {
		t.Errorf("INFORM reply: ntp %v yiaddr %v", got, ack.YourIPAddr)
	}

	// Garbage is counted, not answered.
	raw := listen(t)
	defer raw.Close()
	if _, err := raw.WriteTo([]byte("not dhcp"), srvAddr); err != nil {
		t.Fatal(err)
	}
	for h.Stats().Malformed == 0 {
		if time.Now().After(deadline.Add(2 * time.Second)) {
			t.Fatal("malformed packet not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDestination(t *testing.T) {
	peer := &net.UDPAddr{IP: net.IPv4(198, 18, 0, 77), Port: 68}
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: ClientPort}
	mk := func(mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		m, _ := dhcpv4.New(mods...)
		return m
	}
	ack := mk(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck))
	nak := mk(dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
	for _, tc := range []struct {
		name      string
		req, resp *dhcpv4.DHCPv4
		peer      *net.UDPAddr
		want      string
	}{
		{"relay", mk(dhcpv4.WithGatewayIP(net.IPv4(198, 18, 1, 1))), ack, bcast, "198.18.1.1:67"},
		{"nak", mk(dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77))), nak, peer, bcast.String()},
		{"ciaddr", mk(dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 78))), ack, peer, "198.18.0.78:68"},
		{"ciaddr is peer", mk(dhcpv4.WithClientIP(net.IPv4(198, 18, 0, 77))), ack, &net.UDPAddr{IP: peer.IP, Port: 4000}, "198.18.0.77:4000"},
		{"no address", mk(), ack, bcast, bcast.String()},
		{"nil peer", mk(), ack, nil, bcast.String()},
		{"sender has address", mk(), ack, peer, peer.String()},
	} {
		if got := Destination(tc.req, tc.resp, tc.peer).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
