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
// chrony; anything else must be an IP address, stored in canonical form.
// Unlike chrony, which keeps one address per family and one path, the last
// line wins.
func (p *parser) bindCmdAddress(l *line) error {
	s, err := l.oneArg("an IP address or a socket path")
	if err != nil {
		return err
	}
	if strings.HasPrefix(s, "/") {
		p.cfg.BindCmdAddress = s
		return nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return fmt.Errorf("expected an IP address without zone or an absolute socket path, got %q", s)
	}
	p.cfg.BindCmdAddress = addr.String()
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
