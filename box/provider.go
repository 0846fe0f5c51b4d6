package box

import (
	"errors"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/daemon"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// provider answers the control socket from the NTP service.
type provider struct {
	ntp    *daemon.Service
	reload func() error // nil: this daemon cannot reload (control.Reloader)
}

// Reload is `ntpbox reload`.
func (p provider) Reload() error {
	if p.reload == nil {
		return errors.New("this daemon follows a config it does not read itself (on the appliance, init rereads /perm/ntpbox.conf: run ntpbox reload there)")
	}
	return p.reload()
}

func (p provider) Sources() []upstream.SourceReport  { return p.ntp.Sources() }
func (p provider) Tracking() upstream.TrackingReport { return p.ntp.Tracking() }

// MakeStep is `ntpbox makestep`.
func (p provider) MakeStep() (time.Duration, error) { return p.ntp.MakeStep() }

// Burst is `ntpbox burst`.
func (p provider) Burst(a control.BurstArgs) (int, error) { return p.ntp.Burst(a.Good, a.Max, a.Match) }

// History is `history` (the status page's graph).
func (p provider) History() []upstream.HistoryPoint { return p.ntp.History() }

func (p provider) Clients() []control.ClientReport {
	var out []control.ClientReport
	for _, c := range p.ntp.Clients() {
		out = append(out, control.ClientReport{
			Addr: c.Addr, NTP: uint64(c.Hits), Drop: uint64(c.Drops), KoD: uint64(c.KoDs),
			Interval: c.IntervalLog2, LastAgo: c.LastAgo,
		})
	}
	return out
}
