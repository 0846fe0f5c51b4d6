package config

import (
	"fmt"
	"net/netip"
)

// This file has the directives of the NTP server side: port, bindaddress,
// ratelimit, clientloglimit, noclientlog.

// maxClientLogLimit is the largest `clientloglimit`. chrony documents 2^31
// as the largest effective value; ntpbox stops one byte short so the value
// fits an int everywhere.
const maxClientLogLimit = maxInt32

// port handles `port N`, 0..65535; 0 disables the server port.
func (p *parser) port(l *line) error {
	if _, err := l.oneArg("a port 0..65535"); err != nil {
		return err
	}
	v, err := parseInt("", l.arg(0), 0, 65535)
	if err != nil {
		return err
	}
	p.cfg.Port = v
	return nil
}

// bindAddress handles `bindaddress ADDR`. Each address may be given once.
func (p *parser) bindAddress(l *line) error {
	s, err := l.oneArg("an IP address")
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return fmt.Errorf("expected an IP address without zone, got %q", s)
	}
	if prev, ok := p.bound[addr]; ok {
		return fmt.Errorf("expected each address once, got %s again (first at %s)", addr, prev)
	}
	p.bound[addr] = l.origin
	p.cfg.BindAddresses = append(p.cfg.BindAddresses, addr)
	p.cfg.setOrigin("bindaddress "+addr.String(), l.origin)
	return nil
}

// rateLimit handles `ratelimit [interval N] [burst N] [leak N] [kod N]`.
// Options not named keep their earlier value (the default, or that of an
// earlier ratelimit line), as in chrony.
func (p *parser) rateLimit(l *line) error {
	rl := DefaultRateLimit()
	if p.cfg.RateLimit != nil {
		rl = *p.cfg.RateLimit
	}
	for i := 0; i < len(l.args); i += 2 {
		name := asciiLower(l.args[i])
		value := l.arg(i + 1)
		var err error
		switch name {
		case "interval":
			rl.Interval, err = parseInt(name, value, -19, 12)
		case "burst":
			rl.Burst, err = parseInt(name, value, 1, 255)
		case "leak":
			rl.Leak, err = parseInt(name, value, 1, 4)
		case "kod":
			rl.KoD, err = parseInt(name, value, 0, 4)
		default:
			err = fmt.Errorf("expected an option (interval, burst, leak, kod), got %q", l.args[i])
		}
		if err != nil {
			return err
		}
	}
	p.cfg.RateLimit = &rl
	pos := l.origin
	p.rateLimitAt = &pos
	return nil
}

// clientLogLimit handles `clientloglimit BYTES`.
func (p *parser) clientLogLimit(l *line) error {
	if _, err := l.oneArg("a size in bytes"); err != nil {
		return err
	}
	v, err := parseInt("", l.arg(0), 0, maxClientLogLimit)
	if err != nil {
		return err
	}
	p.cfg.ClientLogLimit = v
	return nil
}

// noClientLog handles `noclientlog`.
func (p *parser) noClientLog(l *line) error {
	if err := l.noArgs(); err != nil {
		return err
	}
	p.cfg.NoClientLog = true
	pos := l.origin
	p.noClientLogAt = &pos
	return nil
}
