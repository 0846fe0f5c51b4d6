package cmdmon

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver"
)

func rules(t *testing.T, text string) []config.AccessRule {
	t.Helper()
	cfg, _, err := config.ParseBytes("test.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.CmdAccess
}

// TestAllowed: localhost always; others as cmdallow/cmddeny say, with
// the connected subnets of now; nobody else by default.
func TestAllowed(t *testing.T) {
	connected := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}
	for _, tc := range []struct {
		conf  string
		allow []string
		deny  []string
	}{
		{"", []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, []string{"127.0.0.2", "198.18.0.9", "2001:db8::1"}},
		{"cmdallow connected\n", []string{"198.18.0.9", "127.0.0.1"}, []string{"198.18.1.9"}},
		{"cmdallow 10/8\ncmddeny 10.1/16\n", []string{"10.2.0.1"}, []string{"10.1.0.1", "198.18.0.9"}},
		{"cmdallow all\ncmddeny 127.0.0.1\n", []string{"2001:db8::1", "127.0.0.1"}, nil}, // localhost is not deniable, as in chronyd
	} {
		s := NewServer(fakeProvider{}, ntpserver.NewAccess(rules(t, tc.conf), connected), nil)
		for _, a := range tc.allow {
			if !s.Allowed(netip.MustParseAddr(a)) {
				t.Errorf("%q: %s refused", tc.conf, a)
			}
		}
		for _, a := range tc.deny {
			if s.Allowed(netip.MustParseAddr(a)) {
				t.Errorf("%q: %s allowed", tc.conf, a)
			}
			if n := s.Handle(request(reqTracking), netip.MustParseAddr(a), make([]byte, MaxReplyLen)); n != 0 {
				t.Errorf("%q: %s answered", tc.conf, a)
			}
		}
	}
}

func TestListenAddrs(t *testing.T) {
	for _, tc := range []struct {
		conf string
		want []string
	}{
		{"", []string{"127.0.0.1:323", "[::1]:323"}},
		{"cmdport 0\ncmdallow\n", nil},
		{"cmdport 10323\n", []string{"127.0.0.1:10323", "[::1]:10323"}},
		{"cmddeny 10/8\n", []string{"127.0.0.1:323", "[::1]:323"}},
		{"cmdallow 10/8\n", []string{"0.0.0.0:323", "[::]:323"}},
		{"cmdallow connected\nbindcmdaddress 198.18.0.2\n", []string{"198.18.0.2:323", "[::]:323"}},
		{"bindcmdaddress ::\nbindcmdaddress /run/x.sock\n", []string{"127.0.0.1:323", "[::]:323"}},
		{"bindcmdaddress /run/x.sock\n", []string{"127.0.0.1:323", "[::1]:323"}},
	} {
		cfg, _, err := config.ParseBytes("test.conf", []byte(tc.conf))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range ListenAddrs(cfg) {
			got = append(got, a.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.conf, got, tc.want)
		}
	}
}

// TestServe answers over a real socket and counts the request in
// serverstats.
func TestServe(t *testing.T) {
	conns, warns := Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")})
	if len(conns) != 1 {
		t.Fatalf("listen: %v", warns)
	}
	s := NewServer(fakeProvider{}, nil, nil)
	done := make(chan error)
	go func() { done <- s.Serve(conns[0]) }()
	c, err := net.DialUDP("udp4", nil, conns[0].LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	exchange := func(req []byte) []byte {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	r := exchange(request(reqTracking))
	if len(r) != replyLen(76) || binary.BigEndian.Uint16(r[6:]) != rpyTracking {
		t.Errorf("tracking reply % x", r)
	}
	r = exchange(request(reqServerStats))
	if hits := binary.BigEndian.Uint32(r[replyHeaderLen+8:]); hits != 3+2 {
		t.Errorf("cmd hits %d, want the provider's 3 and these 2", hits)
	}
	conns[0].Close()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
