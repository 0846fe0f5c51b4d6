package clocktest

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Server is a simulated NTP server. Its behaviour over (true) time is
// given by functions of the true time in seconds since the world's
// start; nil functions mean "always fine".
type Server struct {
	Addr      netip.AddrPort
	Stratum   uint8
	RefID     uint32
	Precision int8
	RootDelay time.Duration
	RootDisp  time.Duration
	ProcTime  time.Duration // between receive and transmit timestamps
	// TxLatency is how long after its transmit timestamp a reply
	// leaves: a server's network stack, which a basic-mode client
	// cannot see (it reads the server's time TxLatency/2 early).
	TxLatency time.Duration
	// Interleaved makes the server answer interleaved requests as
	// chronyd does: it keeps the real transmit time of each reply,
	// keyed by the reply's receive timestamp (lowest bit 1), and sends
	// it in the reply to a request whose origin is that timestamp, with
	// the request's receive field as the origin.
	Interleaved bool
	// DaemonTx: the server has no kernel transmit timestamps, and
	// keeps for an interleaved reply the transmit time the earlier
	// reply already carried (as ntpbox's and chronyd's servers do
	// without one).
	DaemonTx bool
	sent     map[wire.Time64]wire.Time64
	// InterleavedReplies counts the interleaved replies sent.
	InterleavedReplies int

	// Offset is the server clock's error (server minus true time, s).
	Offset func(t float64) float64
	// Up reports whether the server answers at all.
	Up func(t float64) bool
	// Leap is the leap indicator it sends.
	Leap func(t float64) wire.Leap
	// Kiss, when it returns a code ("RATE", "DENY", "RSTR"), makes the
	// server answer with that Kiss-o'-Death.
	Kiss func(t float64) string
}

// NewServer returns a stratum-1 server at addr ("198.18.0.1:123") with
// a perfect clock, 1 µs precision and 10 µs processing time.
func NewServer(addr string) *Server {
	ap := netip.MustParseAddrPort(addr)
	return &Server{
		Addr:      ap,
		Stratum:   1,
		RefID:     wire.KissCode("GPS"),
		Precision: -20,
		RootDisp:  10 * time.Microsecond,
		ProcTime:  10 * time.Microsecond,
	}
}

// Step returns an Offset function that is 0 until true time at and then
// d (a server whose clock steps).
func Step(at float64, d time.Duration) func(float64) float64 {
	return func(t float64) float64 {
		if t >= at {
			return d.Seconds()
		}
		return 0
	}
}

// Constant returns an Offset function that is always d (a falseticker).
func Constant(d time.Duration) func(float64) float64 {
	return func(float64) float64 { return d.Seconds() }
}

// Outage returns an Up function that is false during [from, to).
func Outage(from, to float64) func(float64) bool {
	return func(t float64) bool { return t < from || t >= to }
}

// answer builds the reply to req received at true time t, or returns
// nil when the server stays silent.
func (s *Server) answer(w *World, req []byte, t float64) []byte {
	if s.Up != nil && !s.Up(t) {
		return nil
	}
	off := 0.0
	if s.Offset != nil {
		off = s.Offset(t)
	}
	leap := wire.LeapNone
	if s.Leap != nil {
		leap = s.Leap(t)
	}
	var kiss uint32
	if s.Kiss != nil {
		if code := s.Kiss(t); code != "" {
			kiss = wire.KissCode(code)
		}
	}
	rx := w.base.Add(secondsToDuration(t + off))
	st := ntpserver.SyncState{
		Leap:           leap,
		Stratum:        s.Stratum,
		Precision:      s.Precision,
		RefID:          s.RefID,
		RefTime:        wire.TimeToNTP(rx.Add(-16 * time.Second)),
		RootDelay:      s.RootDelay,
		RootDispersion: s.RootDisp,
	}
	out := make([]byte, wire.HeaderLen)
	n, drop := ntpserver.Respond(out, req, wire.TimeToNTP(rx), &st, kiss)
	if drop != ntpserver.DropNone {
		return nil
	}
	tx := wire.TimeToNTP(rx.Add(s.ProcTime))
	if s.Interleaved && kiss == 0 {
		tx &^= 1
		rxNTP := wire.TimeToNTP(rx) | 1
		binary.BigEndian.PutUint64(out[wire.OffReceive:], uint64(rxNTP))
		if s.sent == nil || len(s.sent) > 4096 {
			s.sent = make(map[wire.Time64]wire.Time64)
		}
		origin := wire.Time64(binary.BigEndian.Uint64(req[wire.OffOrigin:]))
		if prev, ok := s.sent[origin]; ok && origin&1 == 1 {
			delete(s.sent, origin)
			copy(out[wire.OffOrigin:wire.OffOrigin+8], req[wire.OffReceive:wire.OffReceive+8])
			tx = prev
			s.InterleavedReplies++
		}
		// When this reply really leaves.
		s.sent[rxNTP] = wire.TimeToNTP(rx.Add(s.ProcTime+s.TxLatency)) &^ 1
		if s.DaemonTx {
			s.sent[rxNTP] = wire.TimeToNTP(rx.Add(s.ProcTime)) &^ 1 // what the basic reply carries
		}
	}
	wire.PutTransmit(out, tx)
	return out[:n]
}
