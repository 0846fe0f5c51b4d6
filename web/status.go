// Package web is the box's HTTP face (the `http` directive): the status
// page at / and the Prometheus metrics at /metrics. Both are read-only.
// The package imports no service: package box (for `ntpbox serve`) and
// the appliance's web service fill a Status from the services' reports.
package web

import (
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// Status is everything the status page shows, gathered at one moment.
// A part that could not be gathered is empty, and Errors says why.
type Status struct {
	Now      time.Time // when it was gathered
	Hostname string    // the box's name (HOST.local with mdns)
	Version  string    // ntpbox's version and commit

	Tracking    upstream.TrackingReport
	Sources     []upstream.SourceReport
	Clients     []control.ClientReport
	ServerStats control.ServerStats
	// History is the last 24 hours of the clock's state, oldest first,
	// one point per clock update.
	History []HistoryPoint

	Leases  []Lease  // the DHCP server's leases (`dhcp`), none when off
	Records []Record // the DNS records the box publishes (`dns zone`, mdns)
	Log     []string // the last log lines, oldest first (at most 200)
	Config  []ConfigLine

	Errors []string // the parts that could not be gathered, and why
}

// HistoryPoint is the clock's state at one update: time, offset
// (chronyc's sign), frequency (ppm), root distance as served, and
// whether it was synchronised. The NTP service keeps them (the control
// socket's `history` command, control.History).
type HistoryPoint = upstream.HistoryPoint

// Lease is one of the DHCP server's leases.
type Lease struct {
	Addr     string    `json:"addr"`
	MAC      string    `json:"mac"`
	Hostname string    `json:"hostname,omitempty"`
	Expires  time.Time `json:"expires"`
	State    string    `json:"state"` // "offered", "bound", "declined"...
}

// Record is one DNS record the box publishes, in zone-file text.
type Record struct {
	Source string `json:"source"` // "dns zone" or "mdns"
	Text   string `json:"text"`   // e.g. "_ntp._udp.lan. 3600 IN SRV 0 0 123 ntpbox.lan."
}

// ConfigLine is one line of the merged config (`ntpbox config`) and the
// origin of its setting (a file and line, the kernel command line, the
// DHCP lease or a default).
type ConfigLine struct {
	Text   string `json:"text"`
	Origin string `json:"origin"`
}
