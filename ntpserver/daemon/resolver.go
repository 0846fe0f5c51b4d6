package daemon

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
)

// Resolver looks up the addresses of a source's name; net.DefaultResolver
// is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// configResolver asks the DNS servers the config names (`nameserver`, or
// the DHCP lease's), which change when a lease arrives or is renewed
// with others; with none, the system's resolver (/etc/resolv.conf).
type configResolver struct {
	servers atomic.Pointer[[]netip.Addr]
	next    atomic.Uint32 // spreads lookups over the servers
}

// set makes servers the DNS servers, and reports whether they changed.
func (r *configResolver) set(servers []netip.Addr) bool {
	s := append([]netip.Addr(nil), servers...)
	old := r.servers.Swap(&s)
	return old == nil || !slices.Equal(*old, s)
}

func (r *configResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	p := r.servers.Load()
	if p == nil || len(*p) == 0 {
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
	servers := *p
	res := &net.Resolver{
		PreferGo: true,
		// The Go resolver asks the address it would have read from
		// resolv.conf; ask the config's servers instead, in turn.
		Dial: func(ctx context.Context, netw, _ string) (net.Conn, error) {
			a := servers[int(r.next.Add(1))%len(servers)]
			var d net.Dialer
			return d.DialContext(ctx, netw, netip.AddrPortFrom(a, 53).String())
		},
	}
	return res.LookupNetIP(ctx, network, host)
}
