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
	// IntervalLimited is chronyc's IntL: log2 of the mean interval
	// after rate limiting; nil when unknown (ntpbox does not keep it).
	IntervalLimited *int `json:"interval_limited,omitempty"`
	// CmdPort is the client's use of the command port, nil when none
	// is known (ntpbox counts command-port requests only in all).
	CmdPort *CmdAccess `json:"cmd_port,omitempty"`
}

// CmdAccess is a client's requests to the command port: chronyc
// clients' last four columns.
type CmdAccess struct {
	Hits     uint64        `json:"hits"`
	Drops    uint64        `json:"drops"`
	Interval int           `json:"interval"` // log2 s; 127 if unknown
	LastAgo  time.Duration `json:"last_ago"`
}

// Provider is what the control server asks the daemon.
type Provider interface {
	Sources() []upstream.SourceReport
	Tracking() upstream.TrackingReport
	Clients() []ClientReport
}

// ServerStats are the counters of `serverstats` since the daemon
// started, with chronyc's meaning: NTPHits counts the NTP requests of
// allowed clients (answered or not), NTPDrops those dropped by the rate
// limit; CmdHits and CmdDrops the requests to the command port (UDP
// 323) from allowed hosts; the interleaved replies and the timestamps
// held for them; LogDrops the client records evicted to make room. The
// NTS and authentication counters of chronyc's report are 0: ntpbox has
// no NTS and no keys.
type ServerStats struct {
	NTPHits         uint64 `json:"ntp_hits"`
	NTPDrops        uint64 `json:"ntp_drops"`
	CmdHits         uint64 `json:"cmd_hits"`
	CmdDrops        uint64 `json:"cmd_drops"`
	LogDrops        uint64 `json:"log_drops"`        // client log records dropped
	KoDs            uint64 `json:"kods"`             // answered with a RATE kiss-o'-death (ntpbox's; not in chronyc's report)
	InterleavedHits uint64 `json:"interleaved_hits"` // interleaved NTP requests answered
	Timestamps      uint64 `json:"timestamps"`       // held for interleaved replies
	TimestampSpan   uint64 `json:"timestamp_span"`   // seconds between the oldest and newest held
}
