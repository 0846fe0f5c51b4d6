package ntpserver

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// The server side of NTP's interleaved mode, as chronyd answers it
// (ntp_core.c, NCR_ProcessRxUnknown and transmit_packet; the client
// side is chrony's `xleave` option).
//
// A reply's transmit timestamp is read before the reply is sent; the
// kernel's timestamp of the moment it left comes only afterwards. In
// interleaved mode the client sends, as its origin timestamp, the
// receive timestamp of the reply it got last; the server finds the
// transmit time it recorded for that reply and sends it in this one,
// with the client's receive time of that reply as the origin. The
// client then computes its offset from the previous exchange with the
// more accurate transmit time.
//
// Every reply carries a receive timestamp whose lowest bit is 1 and a
// transmit timestamp whose lowest bit is 0. An origin with its lowest bit
// 1 is therefore one of our receive timestamps (or a coincidence), and
// only those requests are looked up and recorded: a server that keeps
// every client's timestamps would spend memory on clients that never use
// them. So the third reply to a new client is the first interleaved
// one. Each recorded transmit time serves one interleaved reply.

// xleaveSize is how many replies' transmit times are kept; the oldest
// go first. chronyd keeps up to 16384 by default, as much as its client
// log allows.
const xleaveSize = 16384

// xleaveTable maps the receive timestamp of a reply (as sent, lowest bit
// 1) to the transmit time of that reply: the daemon's clock reading
// before the send, replaced by the kernel's timestamp when it reports
// one. It is shared by all serving loops: one client's requests may
// reach different sockets.
type xleaveTable struct {
	mu   sync.Mutex
	m    map[wire.Time64]xleaveEntry
	ring [xleaveSize]wire.Time64 // keys in the order they came, for eviction
	next int
	hits atomic.Uint64 // interleaved replies sent (chronyc serverstats)
}

type xleaveEntry struct {
	tx     wire.Time64 // cooked, lowest bit 0
	kernel bool        // tx is the kernel's transmit timestamp
}

func newXleaveTable() *xleaveTable {
	return &xleaveTable{m: make(map[wire.Time64]xleaveEntry, 1024)}
}

// take returns the transmit time recorded for the reply whose receive
// timestamp was rx, and forgets it: it serves one interleaved reply.
func (x *xleaveTable) take(rx wire.Time64) (wire.Time64, bool) {
	x.mu.Lock()
	e, ok := x.m[rx]
	if ok {
		delete(x.m, rx)
	}
	x.mu.Unlock()
	ok = ok && e.tx != 0
	if ok {
		x.hits.Add(1)
	}
	return e.tx, ok
}

// held returns how many transmit times are kept and the seconds between
// the receive timestamps of the oldest and newest of them (chronyc
// serverstats: NTP timestamps held, NTP timestamp span).
func (x *xleaveTable) held() (n int, span uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var lo, hi wire.Time64
	for k := range x.m {
		if n == 0 || k-lo > 1<<63 { // k before lo, in serial arithmetic
			lo = k
		}
		if n == 0 || hi-k > 1<<63 {
			hi = k
		}
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return n, uint64(hi.Sub(lo).Seconds())
}

// put records the transmit time of the reply whose receive timestamp is
// rx, evicting the oldest record when the table is full.
func (x *xleaveTable) put(rx, tx wire.Time64) {
	x.mu.Lock()
	if _, ok := x.m[rx]; !ok {
		if old := x.ring[x.next]; old != 0 {
			delete(x.m, old)
		}
		x.ring[x.next] = rx
		x.next = (x.next + 1) % xleaveSize
	}
	x.m[rx] = xleaveEntry{tx: tx}
	x.mu.Unlock()
}

// kernelTx replaces the transmit time recorded for rx with the kernel's,
// if the record is still there.
func (x *xleaveTable) kernelTx(rx, tx wire.Time64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.m[rx]; !ok {
		return false
	}
	x.m[rx] = xleaveEntry{tx: tx, kernel: true}
	return true
}

// interleavedRequest reports whether req asks for an interleaved reply:
// NTPv4, an origin timestamp with its lowest bit 1 (one of our receive
// timestamps), and receive and transmit timestamps that differ, as
// chronyd requires.
func interleavedRequest(req []byte) (origin wire.Time64, ok bool) {
	if (req[wire.OffFlags]>>3)&7 != 4 {
		return 0, false
	}
	origin = wire.Time64(binary.BigEndian.Uint64(req[wire.OffOrigin:]))
	if origin&1 == 0 || binary.BigEndian.Uint64(req[wire.OffReceive:]) == binary.BigEndian.Uint64(req[wire.OffTransmit:]) {
		return 0, false
	}
	return origin, true
}
