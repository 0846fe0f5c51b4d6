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
	return ProbeServersAs(ctx, iface, nil)
}

// ProbeServersAs is ProbeServers that also asks as each of clients, the
// box's own clients: a DISCOVER with the client's chaddr and client
// identifier, tagged so that the box's own handler ignores it. A server
// that answers only the clients it knows (dnsmasq's
// dhcp-ignore=tag:!known) never answers the probe address, but answers
// the clients it knows, such as those the box leased to while it was
// down.
func ProbeServersAs(ctx context.Context, iface string, clients []SearchAs) ([]netip.Addr, error) {
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
	type asked struct {
		xid dhcpv4.TransactionID
		hw  net.HardwareAddr
		pkt []byte
	}
	var all []asked
	for i, c := range append([]SearchAs{{HW: hw}}, clients...) {
		x := xid
		x[3] += byte(i) // distinct transaction IDs from one random one
		var m *dhcpv4.DHCPv4
		if i == 0 {
			m, err = newProbe(x, hw)
		} else {
			m, err = newProbeAs(x, c, hw)
		}
		if err != nil {
			return nil, fmt.Errorf("dhcp probe: %w", err)
		}
		all = append(all, asked{x, c.HW, m.ToBytes()})
	}
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: ServerPort}

	// A read blocked when ctx ends returns at once.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	var servers []netip.Addr
	buf := make([]byte, 1<<16)
	next := time.Now()
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(next) {
			for _, a := range all {
				if _, err := conn.WriteTo(a.pkt, dst); err != nil {
					return servers, fmt.Errorf("dhcp probe on %s: send: %w", iface, err)
				}
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
		for _, a := range all {
			if s, ok := offerServer(reply, a.xid, a.hw, src); ok {
				servers = addServer(servers, s)
			}
		}
	}
	return servers, nil
}
