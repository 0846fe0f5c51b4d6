package control

import (
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The reports are what the daemon tells `ntpbox sources`, `sourcestats`,
// `tracking` and `clients`: plain values, JSON-encodable, with the same
// content as chronyc's columns. The upstream engine owns the source and
// tracking reports (upstream.SourceReport, upstream.TrackingReport); the
// client report is this package's.

// ClientReport is a line of `clients`.
type ClientReport struct {
	Addr     netip.Addr    `json:"addr"`
	NTP      uint64        `json:"ntp"`      // requests
	Drop     uint64        `json:"drop"`     // dropped by the rate limit
	KoD      uint64        `json:"kod"`      // answered with RATE
	Interval int           `json:"interval"` // log2 of the average interval between requests; 127 if unknown
	LastAgo  time.Duration `json:"last_ago"` // since the last request
}

// Provider is what the control server asks the daemon.
type Provider interface {
	Sources() []upstream.SourceReport
	Tracking() upstream.TrackingReport
	Clients() []ClientReport
}
