package box

import (
	"net/netip"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

// _http._tcp is announced only where `http` serves the LAN address.
func TestHTTPOnLAN(t *testing.T) {
	lan := netip.MustParseAddr("198.18.0.2")
	for _, c := range []struct {
		name string
		h    *config.HTTP
		want bool
	}{
		{"off", nil, false},
		{"lan", &config.HTTP{LAN: true, Port: 80}, true},
		{"the LAN address", &config.HTTP{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), lan}, Port: 8080}, true},
		{"0.0.0.0", &config.HTTP{Addrs: []netip.Addr{netip.IPv4Unspecified()}, Port: 80}, true},
		{"::", &config.HTTP{Addrs: []netip.Addr{netip.IPv6Unspecified()}, Port: 80}, true},
		{"loopback only", &config.HTTP{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: 80}, false},
	} {
		if got := httpOnLAN(c.h, lan); got != c.want {
			t.Errorf("%s: httpOnLAN = %v, want %v", c.name, got, c.want)
		}
	}
}
