package clocktest

import (
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
	wire.PutTransmit(out, wire.TimeToNTP(rx.Add(s.ProcTime)))
	return out[:n]
}
