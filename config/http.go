package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultHTTPPort is the port of `http` when the line names none.
const DefaultHTTPPort = 80

// HTTP is the `http` directive (ntpbox's, not chrony's): where the box
// serves its status page (/) and Prometheus metrics (/metrics).
//
//	http off                      the default
//	http lan [port N]             every address of the subnets the box is on (the appliance's default)
//	http ADDRESS... [port N]      these addresses (0.0.0.0 and :: for all)
//
// The page and the metrics are read-only.
type HTTP struct {
	LAN   bool         // `http lan`: the box's LAN addresses, as they change
	Addrs []netip.Addr // the addresses named, unique, no zones; empty with LAN
	Port  int          // 1..65535, DefaultHTTPPort unless `port N`
}

// ListenAddrs are the address:port pairs of the named addresses (not
// the LAN ones, which come from the links).
func (h *HTTP) ListenAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range h.Addrs {
		out = append(out, netip.AddrPortFrom(a, uint16(h.Port)))
	}
	return out
}

// words renders h as the directive's arguments.
func (h *HTTP) words() []string {
	var w []string
	if h.LAN {
		w = append(w, "lan")
	}
	for _, a := range h.Addrs {
		w = append(w, a.String())
	}
	if h.Port != DefaultHTTPPort {
		w = append(w, "port", strconv.Itoa(h.Port))
	}
	return w
}

func (p *parser) http(l *line) error {
	const want = `"off", "lan" or addresses, then optionally "port N"`
	if len(l.args) == 0 {
		return fmt.Errorf("expected %s", want)
	}
	if len(l.args) == 1 && strings.EqualFold(l.args[0], "off") {
		p.cfg.HTTP = nil
		return nil
	}
	h := &HTTP{Port: DefaultHTTPPort}
	args := l.args
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.EqualFold(a, "port"):
			if i+1 >= len(args) {
				return fmt.Errorf("expected a port 1..65535 after %q", a)
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("expected a port 1..65535, got %q", args[i+1])
			}
			h.Port = n
			i++
		case strings.EqualFold(a, "lan"):
			h.LAN = true
		case strings.EqualFold(a, "off"):
			return fmt.Errorf(`"off" stands alone, got %q`, strings.Join(args, " "))
		default:
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return fmt.Errorf("expected %s, got %q", want, a)
			}
			if ip.Zone() != "" {
				return fmt.Errorf("expected an address without a zone, got %q", a)
			}
			ip = ip.Unmap()
			found := false
			for _, x := range h.Addrs {
				found = found || x == ip
			}
			if !found {
				h.Addrs = append(h.Addrs, ip)
			}
		}
	}
	if !h.LAN && len(h.Addrs) == 0 {
		return fmt.Errorf("expected %s, got %q", want, strings.Join(args, " "))
	}
	if h.LAN && len(h.Addrs) > 0 {
		return fmt.Errorf(`expected either "lan" or addresses, got both in %q`, strings.Join(args, " "))
	}
	p.cfg.HTTP = h
	return nil
}
