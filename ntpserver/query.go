package ntpserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// DialFunc opens a connection, as net.Dialer.DialContext does. Clients
// take one so tests can hand them anything.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// QueryResult is one server's answer, with the four timestamps of
// RFC 5905 §8 and what follows from them.
type QueryResult struct {
	Server     string
	Header     wire.Packet
	Offset     time.Duration // server clock minus ours
	Delay      time.Duration // round trip minus the server's processing
	T1, T2     time.Time     // sent (ours), received (theirs)
	T3, T4     time.Time     // sent (theirs), received (ours)
	KissCode   string        // set for a Kiss-o'-Death reply
	ReplyBytes int
}

// Synchronised reports whether the server claims a usable clock.
func (r *QueryResult) Synchronised() bool {
	return r.Header.Leap != wire.LeapUnsynchronised && r.Header.Stratum > 0 && r.Header.Stratum < 16
}

// ErrKissOfDeath is wrapped by Query when the server answers with a
// Kiss-o'-Death (stratum 0).
var ErrKissOfDeath = errors.New("kiss-o'-death")

// Query sends one client request of the given version (1–4) to address
// ("host:port") and waits for the reply until ctx ends. now reads our
// clock (time.Now in production). The reply must be a server-mode packet
// that echoes our transmit timestamp in its origin field, or it is ignored
// as a stray or spoofed packet.
func Query(ctx context.Context, dial DialFunc, address string, version uint8, now func() time.Time) (*QueryResult, error) {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "udp", address)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var req [wire.HeaderLen]byte
	t1 := now()
	xmt := wire.TimeToNTP(t1)
	// Randomise the low bits of the transmit fraction, below the clock's
	// resolution, so the origin check also resists blind spoofing. The
	// runtime seeds math/rand/v2 from the kernel's AT_RANDOM bytes: unlike
	// crypto/rand it never waits for the entropy pool after boot.
	xmt = xmt&^0xffff | wire.Time64(rand.Uint32()&0xffff)
	p := wire.Packet{Version: version, Mode: wire.ModeClient, Poll: 6, Transmit: xmt}
	p.Encode(req[:])
	if _, err := conn.Write(req[:]); err != nil {
		return nil, fmt.Errorf("query %s: send: %w", address, err)
	}
	buf := make([]byte, wire.MaxPacketLen+1)
	for {
		n, err := conn.Read(buf)
		t4 := now()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("query %s: no reply: %w", address, err)
		}
		var r wire.Packet
		if r.Decode(buf[:n]) != nil || r.Mode != wire.ModeServer || r.Origin != xmt {
			continue // not the answer to this request
		}
		res := &QueryResult{Server: address, Header: r, T1: t1, T4: t4, ReplyBytes: n}
		if r.Stratum == 0 && r.Leap == wire.LeapUnsynchronised && r.RefID != 0 {
			res.KissCode = wire.RefIDString(0, r.RefID)
			return res, fmt.Errorf("query %s: %w %s", address, ErrKissOfDeath, res.KissCode)
		}
		if r.Version != version {
			return res, fmt.Errorf("query %s: reply has version %d, request had %d", address, r.Version, version)
		}
		if r.Transmit.IsZero() {
			return res, fmt.Errorf("query %s: reply has no transmit timestamp", address)
		}
		res.T2 = r.Receive.Time(t1)
		res.T3 = r.Transmit.Time(t1)
		res.Offset = (res.T2.Sub(t1.Round(0)) + res.T3.Sub(t4.Round(0))) / 2
		res.Delay = t4.Sub(t1) - res.T3.Sub(res.T2)
		return res, nil
	}
}
