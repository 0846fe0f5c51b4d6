package web

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// NTPData is what the chrony metrics are made of: the NTP service's
// reports, as `ntpbox tracking`, `sources`, `serverstats` and `clients`
// give them.
type NTPData struct {
	Tracking    upstream.TrackingReport
	Sources     []upstream.SourceReport
	Clients     []control.ClientReport
	ServerStats control.ServerStats
}

// The chrony metrics carry the names, help texts and labels of
// chrony_exporter (github.com/superq/chrony_exporter), so that its
// dashboards and alerts work on the box unchanged.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	chronyUp = desc("chrony_up", "Whether the chrony server is up.")

	trackingInfo       = desc("chrony_tracking_info", "Chrony tracking info", "tracking_address", "tracking_name", "tracking_refid")
	trackingLastOffset = desc("chrony_tracking_last_offset_seconds", "Chrony tracking last offset in seconds")
	trackingRefTime    = desc("chrony_tracking_reference_timestamp_seconds", "Chrony tracking Reference timestamp")
	trackingRemote     = desc("chrony_tracking_remote_reference", "Chrony tracking is connected to a remote source")
	trackingRMSOffset  = desc("chrony_tracking_rms_offset_seconds", "Chrony tracking long-term average of the offset")
	trackingStratum    = desc("chrony_tracking_stratum", "Chrony tracking client stratum")
	trackingSystemTime = desc("chrony_tracking_system_time_seconds", "Chrony tracking System time")
	trackingFrequency  = desc("chrony_tracking_frequency_ppms", "Rate by which the system's clock would be wrong if chronyd was not correcting it, in PPMs")
	trackingResidual   = desc("chrony_tracking_residual_frequency_ppms", "For the currently selected reference source, the difference between the frequency it suggests and the one currently in use, in PPMs")
	trackingSkew       = desc("chrony_tracking_skew_ppms", "The estimated error bound on the frequency, in PPMs")
	trackingRootDelay  = desc("chrony_tracking_root_delay_seconds", "This is the total of the network path delays to the stratum-1 computer from which the computer is ultimately synchronised")
	trackingRootDisp   = desc("chrony_tracking_root_dispersion_seconds", "Chrony tracking total of all measurement errors to the NTP root")
	trackingUpdate     = desc("chrony_tracking_update_interval_seconds", "The time elapsed since the last measurement from the reference source was processed, in seconds")
	trackingJump       = desc("ntpbox_tracking_remembered_jump_ppms", "The frequency jump of the box's own oscillator that the served root dispersion still allows for, in PPMs; 0 when none is remembered or the box is not synchronised to a source.")
	trackingLeap       = desc("chrony_tracking_leap_status", "Chrony tracking leap status: 0 normal, 1 insert second, 2 delete second, 3 not synchronised")

	srcLabels        = []string{"source_address", "source_name"}
	sourcesLastRx    = desc("chrony_sources_last_sample_age_seconds", "Chrony sources last good sample age in seconds", srcLabels...)
	sourcesLastOff   = desc("chrony_sources_last_sample_offset_seconds", "Chrony sources last sample offset in seconds", srcLabels...)
	sourcesLastErr   = desc("chrony_sources_last_sample_error_margin_seconds", "Chrony sources last sample margin of error in seconds", srcLabels...)
	sourcesPoll      = desc("chrony_sources_polling_interval_seconds", "Chrony sources polling interval in seconds", srcLabels...)
	sourcesStateInfo = desc("chrony_sources_state_info", "Chrony sources state info", "source_address", "source_name", "source_state", "source_mode")
	sourcesStratum   = desc("chrony_sources_stratum", "Chrony sources stratum", srcLabels...)
	sourcesReach     = desc("chrony_sources_reachability_ratio", "Chrony sources ratio of packet reachability", srcLabels...)
	sourcesReachLast = desc("chrony_sources_reachability_success", "Chrony sources last poll reachability success", srcLabels...)

	statsSamples = desc("chrony_sourcestats_samples", "The number of sample points currently being retained for the server. (NP)", srcLabels...)
	statsRuns    = desc("chrony_sourcestats_runs", "The number of runs of residuals having the same sign following the last regression. (NR)", srcLabels...)
	statsSpan    = desc("chrony_sourcestats_span_seconds", "The interval between the oldest and newest samples in seconds", srcLabels...)
	statsStdDev  = desc("chrony_sourcestats_stddev", "The estimated sample standard deviation.", srcLabels...)
	statsFreq    = desc("chrony_sourcestats_frequency_ppms", "The estimated residual frequency for the server, in parts per million.", srcLabels...)
	statsSkew    = desc("chrony_sourcestats_frequency_skew_ppms", "The estimated error bounds on Freq (again in parts per million).", srcLabels...)
	statsOffset  = desc("chrony_sourcestats_offset", "The estimated offset of the source.", srcLabels...)

	ssNTPHits     = desc("chrony_serverstats_ntp_packets_received_total", "The number of valid NTP requests received by the server.")
	ssCmdHits     = desc("chrony_serverstats_command_packets_received_total", "The number of command requests received by the server.")
	ssNTPDrops    = desc("chrony_serverstats_ntp_packets_dropped_total", "The number of NTP requests dropped by the server due to rate limiting.")
	ssCmdDrops    = desc("chrony_serverstats_command_packets_dropped_total", "The number of command requests dropped by the server due to rate limiting.")
	ssLogDrops    = desc("chrony_serverstats_client_log_records_dropped_total", "The number of client log records dropped by the server to limit the memory use.")
	ssInterleaved = desc("chrony_serverstats_interleaved_ntp_packets_total", "The number of received NTP requests that were detected to be in the interleaved mode.")
	ssTimestamps  = desc("chrony_serverstats_ntp_timestamps_held", "The number of pairs of receive and transmit timestamps that the server is currently holding in memory for clients using the interleaved mode.")
	ssSpan        = desc("chrony_serverstats_ntp_timestamp_span_seconds", "The interval (in seconds) covered by the currently held NTP timestamps.")
	// ntpbox refuses keys and NTS (they are errors in its config), so
	// these three are 0 by construction, not for want of counting.
	ssNKEHits  = desc("chrony_serverstats_nts_ke_connections_accepted_total", "The number of NTS-KE connections accepted by the server.")
	ssNKEDrops = desc("chrony_serverstats_nts_ke_connections_dropped_total", "The number of NTS-KE connections dropped by the server due to rate limiting.")
	ssAuthHits = desc("chrony_serverstats_authenticated_ntp_packets_total", "The number of received NTP requests that were authenticated (with a symmetric key or NTS).")

	clientsConnected = desc("chrony_clients_connected", "The number of clients in chronyd's log. The protocol label is \"nts\" for clients that completed an NTS-KE handshake and \"ntp\" for the rest. Saturates at the client log size (clientloglimit).", "protocol")
	clientsLastHit   = desc("chrony_clients_last_ntp_hit_ago_seconds", "Histogram of the time since the last NTP request from each client, in seconds. Clients that have not sent an NTP request are not included.")
	clientsInterval  = desc("chrony_clients_ntp_interval_seconds", "Histogram of the mean interval between NTP requests from each client, in seconds. Clients that chronyd has not measured an interval for, such as those seen only once, are not included.")
	clientsDrops     = desc("chrony_clients_ntp_drops", "Histogram of the number of NTP requests dropped (rate limited) per client.")

	kodRate = desc("ntpbox_ntp_ratelimit_kod_total", "NTP requests answered with a RATE kiss-o'-death by the rate limiter.")
	limited = desc("ntpbox_ntp_ratelimit_limited_clients", "Clients in the client log of which at least one request was dropped or answered with RATE.")
)

// chrony_exporter's histogram buckets for the clients.
var (
	clientTimeBuckets = []float64{1, 5, 30, 60, 300, 1800, 3600, 21600, 86400}
	clientDropBuckets = []float64{0, 1, 2, 5, 10, 50, 100}
)

// ChronyCollector exports the NTP service's reports as chrony_exporter
// does, reading them at each scrape; chrony_up is 0 when get fails.
type ChronyCollector struct {
	Get     func(context.Context) (*NTPData, error)
	Timeout time.Duration // per scrape; default 5 s
}

// Describe sends nothing: the collector is unchecked, as
// chrony_exporter's is (the sources come and go).
func (c *ChronyCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *ChronyCollector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := c.Get(ctx)
	if err != nil || d == nil {
		ch <- gauge(chronyUp, 0)
		return
	}
	ch <- gauge(chronyUp, 1)
	collectTracking(ch, d.Tracking)
	collectSources(ch, d.Sources)
	collectServerStats(ch, d.ServerStats)
	collectClients(ch, d.Clients)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v uint64) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
}

// leapCodes are chrony's leap status numbers.
var leapCodes = map[string]float64{"Normal": 0, "Insert second": 1, "Delete second": 2, "Not synchronised": 3}

func collectTracking(ch chan<- prometheus.Metric, t upstream.TrackingReport) {
	refid := fmt.Sprintf("%08X", t.RefID)
	addr := t.RefName
	if _, err := netip.ParseAddr(addr); err != nil {
		addr = ""
	}
	ch <- gauge(trackingInfo, 1, addr, t.RefName, refid)
	ch <- gauge(trackingLastOffset, t.LastOffset.Seconds())
	ref := 0.0
	if !t.RefTime.IsZero() {
		ref = float64(t.RefTime.UnixNano()) / 1e9
	}
	ch <- gauge(trackingRefTime, ref)
	remote := 0.0
	if addr != "" { // a source, not the local clock (LOCL) or nothing
		remote = 1
	}
	ch <- gauge(trackingRemote, remote)
	ch <- gauge(trackingRMSOffset, t.RMSOffset.Seconds())
	ch <- gauge(trackingStratum, float64(t.Stratum))
	ch <- gauge(trackingSystemTime, t.SystemTime.Seconds())
	ch <- gauge(trackingFrequency, t.Frequency)
	ch <- gauge(trackingResidual, t.ResidualFreq)
	ch <- gauge(trackingSkew, t.Skew)
	ch <- gauge(trackingRootDelay, t.RootDelay.Seconds())
	ch <- gauge(trackingRootDisp, t.RootDispersion.Seconds())
	ch <- gauge(trackingUpdate, t.UpdateInterval.Seconds())
	ch <- gauge(trackingJump, t.RememberedJump)
	leap, ok := leapCodes[t.Leap]
	if !ok {
		leap = 3
	}
	ch <- gauge(trackingLeap, leap)
}

// sourceStates are chrony_exporter's words for chronyc's state column.
var sourceStates = map[string]string{"*": "sync", "+": "candidate", "-": "outlier", "?": "unreach", "x": "falseticker", "~": "jittery"}

func collectSources(ch chan<- prometheus.Metric, srcs []upstream.SourceReport) {
	seen := map[[2]string]bool{}
	for _, s := range srcs {
		addr := ""
		if s.Addr.IsValid() {
			addr = s.Addr.Addr().String()
		}
		name := s.Name
		key := [2]string{addr, name}
		if seen[key] { // two lines for one address (a pool and a server): export the first
			continue
		}
		seen[key] = true
		lastRx := math.NaN()
		if s.LastRx >= 0 {
			lastRx = s.LastRx.Seconds()
		}
		ch <- gauge(sourcesLastRx, lastRx, addr, name)
		ch <- gauge(sourcesLastOff, s.AdjustedOffset.Seconds(), addr, name)
		ch <- gauge(sourcesLastErr, s.ErrorBound.Seconds(), addr, name)
		ch <- gauge(sourcesPoll, math.Exp2(float64(s.Poll)), addr, name)
		state, ok := sourceStates[s.State]
		if !ok {
			state = s.State
		}
		mode := "client"
		switch s.Mode {
		case "=":
			mode = "peer"
		case "#":
			mode = "reference clock"
		}
		ch <- gauge(sourcesStateInfo, 1, addr, name, state, mode)
		ch <- gauge(sourcesStratum, float64(s.Stratum), addr, name)
		reach := 0
		for r := s.Reach; r != 0; r &= r - 1 {
			reach++
		}
		ch <- gauge(sourcesReach, float64(reach)/8, addr, name)
		ch <- gauge(sourcesReachLast, float64(s.Reach&1), addr, name)
		ch <- gauge(statsSamples, float64(s.NP), addr, name)
		ch <- gauge(statsRuns, float64(s.NR), addr, name)
		ch <- gauge(statsSpan, s.Span.Seconds(), addr, name)
		ch <- gauge(statsStdDev, s.StdDev.Seconds(), addr, name)
		ch <- gauge(statsFreq, s.Frequency, addr, name)
		ch <- gauge(statsSkew, s.FreqSkew, addr, name)
		ch <- gauge(statsOffset, s.Offset.Seconds(), addr, name)
	}
}

func collectServerStats(ch chan<- prometheus.Metric, s control.ServerStats) {
	ch <- counter(ssNTPHits, s.NTPHits)
	ch <- counter(ssNKEHits, 0)
	ch <- counter(ssNKEDrops, 0)
	ch <- counter(ssAuthHits, 0)
	ch <- counter(ssCmdHits, s.CmdHits)
	ch <- counter(ssNTPDrops, s.NTPDrops)
	ch <- counter(ssCmdDrops, s.CmdDrops)
	ch <- counter(ssLogDrops, s.LogDrops)
	ch <- counter(kodRate, s.KoDs)
	ch <- counter(ssInterleaved, s.InterleavedHits)
	ch <- gauge(ssTimestamps, float64(s.Timestamps))
	ch <- gauge(ssSpan, float64(s.TimestampSpan))
}

// histogram accumulates one of the clients histograms.
type histogram struct {
	bounds []float64
	count  uint64
	sum    float64
	bkts   map[float64]uint64
}

func newHistogram(bounds []float64) *histogram {
	h := &histogram{bounds: bounds, bkts: map[float64]uint64{}}
	for _, b := range bounds {
		h.bkts[b] = 0
	}
	return h
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	for _, b := range h.bounds {
		if v <= b {
			h.bkts[b]++
		}
	}
}

func (h *histogram) metric(d *prometheus.Desc) prometheus.Metric {
	return prometheus.MustNewConstHistogram(d, h.count, h.sum, h.bkts)
}

func collectClients(ch chan<- prometheus.Metric, clients []control.ClientReport) {
	last, interval, drops := newHistogram(clientTimeBuckets), newHistogram(clientTimeBuckets), newHistogram(clientDropBuckets)
	var nLimited uint64
	for _, c := range clients {
		if c.NTP > 0 || c.Drop > 0 {
			drops.observe(float64(c.Drop))
		}
		if c.Drop > 0 || c.KoD > 0 {
			nLimited++
		}
		if c.NTP == 0 {
			continue
		}
		last.observe(c.LastAgo.Seconds())
		if c.Interval < 127 {
			interval.observe(math.Exp2(float64(c.Interval)))
		}
	}
	ch <- gauge(clientsConnected, float64(len(clients)), "ntp")
	ch <- gauge(clientsConnected, 0, "nts")
	ch <- last.metric(clientsLastHit)
	ch <- interval.metric(clientsInterval)
	ch <- drops.metric(clientsDrops)
	ch <- gauge(limited, float64(nLimited))
}

// BuildInfo is ntpbox_build_info: 1, labelled with the version, the
// commit and the Go version.
func BuildInfo(version string) prometheus.Collector {
	rev := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ntpbox_build_info",
		Help:        "ntpbox's version, commit and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": strings.TrimSpace(version), "revision": rev, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}
