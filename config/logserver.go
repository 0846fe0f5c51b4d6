package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultLogPort is syslog's UDP port (RFC 5426).
const DefaultLogPort = 514

// logServer handles `logserver HOST[:PORT]` and `logserver auto`: the
// box's log, sent as RFC 5424 syslog over UDP (ntpbox's directive, not
// chrony's). HOST is an address or a host name; an IPv6 address with a
// port goes in brackets.
func (p *parser) logServer(l *line) error {
	s, err := l.oneArg(`a log server HOST[:PORT] or "auto"`)
	if err != nil {
		return err
	}
	if strings.EqualFold(s, "auto") {
		p.cfg.LogServer = "auto"
		return nil
	}
	host, port, err := SplitLogServer(s)
	if err != nil {
		return err
	}
	p.cfg.LogServer = net.JoinHostPort(host, strconv.Itoa(port))
	return nil
}

// SplitLogServer splits a `logserver` value into its host and port
// (DefaultLogPort when none is given).
func SplitLogServer(s string) (host string, port int, err error) {
	host, port = s, DefaultLogPort
	if a, err := netip.ParseAddr(s); err == nil { // a bare address, IPv6 too
		if a.Zone() != "" {
			return "", 0, fmt.Errorf("expected an address without a zone, got %q", s)
		}
		return a.String(), port, nil
	}
	if h, ps, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("expected a port 1..65535 in %q", s)
		}
		host, port = h, n
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", 0, fmt.Errorf("expected an address without a zone, got %q", s)
		}
		return a.String(), port, nil
	}
	if !validHostname(strings.TrimSuffix(host, ".")) {
		return "", 0, fmt.Errorf("expected an address or a host name, got %q", host)
	}
	return strings.ToLower(host), port, nil
}

// mdns handles `mdns [on|off]` (ntpbox's directive): answer mDNS as
// HOST.local and announce the services with DNS-SD.
func (p *parser) mdns(l *line) error {
	switch {
	case len(l.args) == 0:
		p.cfg.MDNS = true
	case len(l.args) == 1 && strings.EqualFold(l.args[0], "on"):
		p.cfg.MDNS = true
	case len(l.args) == 1 && strings.EqualFold(l.args[0], "off"):
		p.cfg.MDNS = false
	default:
		return fmt.Errorf(`expected nothing, "on" or "off", got %q`, strings.Join(l.args, " "))
	}
	return nil
}
