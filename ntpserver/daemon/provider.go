package daemon

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// provider answers the control socket from the engine and the client log.
type provider struct {
	s   *syncer
	srv *ntpserver.Server
	now func() time.Time
}

func (p provider) Sources() []upstream.SourceReport {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.eng.Sources()
}

func (p provider) Tracking() upstream.TrackingReport {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.eng.Tracking()
}

func (p provider) Clients() []control.ClientReport {
	cl := p.srv.Clients()
	if cl == nil {
		return nil
	}
	now := p.now().UnixNano()
	var out []control.ClientReport
	for _, c := range cl.Clients() {
		out = append(out, control.ClientReport{
			Addr:     c.Addr,
			NTP:      uint64(c.Hits),
			Drop:     uint64(c.Drops),
			KoD:      uint64(c.KoDs),
			Interval: meanIntervalLog2(c),
			LastAgo:  time.Duration(now - c.Last),
		})
	}
	return out
}

// meanIntervalLog2 is chronyc's Int column: log2 of the mean interval
// between a client's requests, 127 when unknown.
func meanIntervalLog2(c ntpserver.ClientStats) int {
	if c.Hits < 2 || c.Last <= c.First {
		return 127
	}
	mean := float64(c.Last-c.First) / float64(c.Hits-1) / 1e9
	return int(math.Round(math.Log2(mean)))
}
