// Package box is the one place that wires the box's services together:
// the NTP service (package ntpserver/daemon), the control socket
// (package control), and discovery: DHCP option 42 (package dhcpopt)
// and the _ntp._udp SRV zone (package dnssrv). The services never import
// each other; each takes typed values from package config.
package box

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/daemon"
)

// Options are the knobs of Run that do not come from the config.
type Options = daemon.Options

// Run is `ntpbox serve`: it starts the NTP service, the control socket
// for `ntpbox sources` and friends, and discovery when configured (DHCP
// option 42 on UDP 67 with `dhcp`, DHCPv6 option 56 with `dhcp6`, the
// SRV zone on UDP and TCP 53 with `dns zone`), and runs until ctx is
// cancelled or the NTP service stops (maxchange).
func Run(ctx context.Context, cfg *config.Config, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		o.Logger = log
	}
	ntp, err := daemon.Start(ctx, cfg, o)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var ln net.Listener
	if path := control.SocketPath(cfg); path != "" {
		ln, err = control.Listen(path)
		if err != nil {
			log.Warn("control socket not available; ntpbox sources/tracking will not reach this daemon", "err", err)
		} else {
			log.Info("control socket", "path", path)
			wg.Go(func() { control.Serve(ln, provider{ntp}, log.With("component", "control")) })
		}
	}
	disc, err := startDiscovery(cfg, &wg, log)
	if err != nil {
		ntp.Stop()
		if ln != nil {
			ln.Close()
		}
		wg.Wait()
		return fmt.Errorf("discovery: %w", err)
	}
	select {
	case <-ctx.Done():
		ntp.Stop()
	case <-ntp.Done():
	}
	disc.close()
	if ln != nil {
		ln.Close()
	}
	wg.Wait()
	disc.logStats(log.With("component", "dhcp"))
	return ntp.Err()
}
