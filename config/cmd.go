package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file has the directives of the control side: bindcmdaddress,
// cmdport, pidfile.

// bindCmdAddress handles `bindcmdaddress ADDR|PATH`. A word starting with
// "/" is the path of the unix control socket ("/" alone disables it), as in
// chrony; anything else must be an IP address, where the command port
// (chronyc -h) listens. As in chrony, the last path, the last IPv4
// address and the last IPv6 address count, each on its own.
func (p *parser) bindCmdAddress(l *line) error {
	s, err := l.oneArg("an IP address or a socket path")
	if err != nil {
		return err
	}
	if strings.HasPrefix(s, "/") {
		p.cfg.BindCmdAddress = s
		p.cfg.setOrigin("bindcmdaddress path", l.origin)
		return nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return fmt.Errorf("expected an IP address without zone or an absolute socket path, got %q", s)
	}
	if addr.Is4() {
		p.cfg.BindCmdIPv4 = addr
		p.cfg.setOrigin("bindcmdaddress ipv4", l.origin)
	} else {
		p.cfg.BindCmdIPv6 = addr
		p.cfg.setOrigin("bindcmdaddress ipv6", l.origin)
	}
	return nil
}

// cmdPort handles `cmdport N`, 0..65535; 0 disables the UDP command port.
func (p *parser) cmdPort(l *line) error {
	if _, err := l.oneArg("a port 0..65535"); err != nil {
		return err
	}
	v, err := parseInt("", l.arg(0), 0, 65535)
	if err != nil {
		return err
	}
	p.cfg.CmdPort = v
	return nil
}

// pidFile handles `pidfile FILE`.
func (p *parser) pidFile(l *line) error {
	s, err := l.oneArg("a file name")
	if err != nil {
		return err
	}
	p.cfg.PidFile = s
	return nil
}
