package dhcpopt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// probeResend is how often ProbeServers repeats its DHCPDISCOVER.
const probeResend = 2 * time.Second

// ProbeServers looks for other DHCP servers on the LAN of iface: it
// broadcasts a DHCPDISCOVER from [ProbeHWAddrFor] the interface's MAC
// with the broadcast flag,
// repeats it every 2 s with the same transaction ID, and collects the
// server identifier (option 54, else the sender's address) of every
// DHCPOFFER answering it until ctx is done. It returns them sorted and
// without duplicates; none is not an error.
//
// It never sends a DHCPREQUEST, so no server binds an address: an offer
// only reserves one for a short while. It sends and receives on a raw
// packet socket (nclient4), so it works whether or not iface has an
// address and while a DHCP server, ntpbox's own included, listens on UDP 67
// of the same interface. It needs CAP_NET_RAW.
func ProbeServers(ctx context.Context, iface string) ([]netip.Addr, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe on %s: %w", iface, err)
	}
	hw := ProbeHWAddrFor(ifc.HardwareAddr)
	conn, err := nclient4.NewRawUDPConn(iface, ClientPort)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe on %s: %w", iface, err)
	}
	defer conn.Close()
	xid, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		return nil, fmt.Errorf("dhcp probe: %w", err)
	}
	m, err := newProbe(xid, hw)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe: %w", err)
	}
	pkt := m.ToBytes()
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: ServerPort}

	// A read blocked when ctx ends returns at once.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	var servers []netip.Addr
	buf := make([]byte, 1<<16)
	next := time.Now()
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(next) {
			if _, err := conn.WriteTo(pkt, dst); err != nil {
				return servers, fmt.Errorf("dhcp probe on %s: send: %w", iface, err)
			}
			next = now.Add(probeResend)
		}
		dl := next
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		conn.SetReadDeadline(dl)
		if ctx.Err() != nil {
			break // ended before the deadline was set: AfterFunc's was overwritten
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
					break // ctx's timer may fire a moment later: do not spin
				}
				continue
			}
			if ctx.Err() != nil {
				break
			}
			return servers, fmt.Errorf("dhcp probe on %s: receive: %w", iface, err)
		}
		reply, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue
		}
		var src net.IP
		if u, ok := from.(*net.UDPAddr); ok {
			src = u.IP
		}
		if a, ok := offerServer(reply, xid, hw, src); ok {
			servers = addServer(servers, a)
		}
	}
	return servers, nil
}
