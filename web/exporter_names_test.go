package web

import (
	"context"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// exporterDesc is one metric of chrony_exporter: name, help text and
// label names, as its collector/*.go declares them.
type exporterDesc struct {
	name, help string
	labels     []string
}

// chronyExporter is chrony_exporter's metric list (github.com/superq/
// chrony_exporter, collector/tracking.go, sources.go, sourcestats.go,
// serverstats.go and clients.go of its 2026 tree), copied by hand: a
// dashboard or alert written for it must find the same names and labels
// on the box, and promtool/Prometheus the same help texts.
//
// Left out on purpose: serverstats' ntp_{daemon,kernel,hw}_{rx,tx}_
// timestamps_total (ntpbox does not count where its timestamps come
// from) and chrony_exporter_build_info (ntpbox_build_info instead).
var chronyExporter = []exporterDesc{
	{"chrony_up", "Whether the chrony server is up.", nil},

	{"chrony_tracking_info", "Chrony tracking info", []string{"tracking_address", "tracking_name", "tracking_refid"}},
	{"chrony_tracking_last_offset_seconds", "Chrony tracking last offset in seconds", nil},
	{"chrony_tracking_reference_timestamp_seconds", "Chrony tracking Reference timestamp", nil},
	{"chrony_tracking_system_time_seconds", "Chrony tracking System time", nil},
	{"chrony_tracking_remote_reference", "Chrony tracking is connected to a remote source", nil},
	{"chrony_tracking_rms_offset_seconds", "Chrony tracking long-term average of the offset", nil},
	{"chrony_tracking_root_delay_seconds", "This is the total of the network path delays to the stratum-1 computer from which the computer is ultimately synchronised", nil},
	{"chrony_tracking_root_dispersion_seconds", "Chrony tracking total of all measurement errors to the NTP root", nil},
	{"chrony_tracking_frequency_ppms", "Rate by which the system's clock would be wrong if chronyd was not correcting it, in PPMs", nil},
	{"chrony_tracking_residual_frequency_ppms", "For the currently selected reference source, the difference between the frequency it suggests and the one currently in use, in PPMs", nil},
	{"chrony_tracking_skew_ppms", "The estimated error bound on the frequency, in PPMs", nil},
	{"chrony_tracking_update_interval_seconds", "The time elapsed since the last measurement from the reference source was processed, in seconds", nil},
	{"chrony_tracking_stratum", "Chrony tracking client stratum", nil},

	{"chrony_sources_last_sample_age_seconds", "Chrony sources last good sample age in seconds", []string{"source_address", "source_name"}},
	{"chrony_sources_reachability_ratio", "Chrony sources ratio of packet reachability", []string{"source_address", "source_name"}},
	{"chrony_sources_reachability_success", "Chrony sources last poll reachability success", []string{"source_address", "source_name"}},
	{"chrony_sources_last_sample_offset_seconds", "Chrony sources last sample offset in seconds", []string{"source_address", "source_name"}},
	{"chrony_sources_last_sample_error_margin_seconds", "Chrony sources last sample margin of error in seconds", []string{"source_address", "source_name"}},
	{"chrony_sources_polling_interval_seconds", "Chrony sources polling interval in seconds", []string{"source_address", "source_name"}},
	{"chrony_sources_state_info", "Chrony sources state info", []string{"source_address", "source_name", "source_state", "source_mode"}},
	{"chrony_sources_stratum", "Chrony sources stratum", []string{"source_address", "source_name"}},

	{"chrony_sourcestats_samples", "The number of sample points currently being retained for the server. (NP)", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_runs", "The number of runs of residuals having the same sign following the last regression. (NR)", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_span_seconds", "The interval between the oldest and newest samples in seconds", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_stddev", "The estimated sample standard deviation.", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_frequency_ppms", "The estimated residual frequency for the server, in parts per million.", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_frequency_skew_ppms", "The estimated error bounds on Freq (again in parts per million).", []string{"source_address", "source_name"}},
	{"chrony_sourcestats_offset", "The estimated offset of the source.", []string{"source_address", "source_name"}},

	{"chrony_serverstats_ntp_packets_received_total", "The number of valid NTP requests received by the server.", nil},
	{"chrony_serverstats_nts_ke_connections_accepted_total", "The number of NTS-KE connections accepted by the server.", nil},
	{"chrony_serverstats_command_packets_received_total", "The number of command requests received by the server.", nil},
	{"chrony_serverstats_ntp_packets_dropped_total", "The number of NTP requests dropped by the server due to rate limiting.", nil},
	{"chrony_serverstats_nts_ke_connections_dropped_total", "The number of NTS-KE connections dropped by the server due to rate limiting.", nil},
	{"chrony_serverstats_command_packets_dropped_total", "The number of command requests dropped by the server due to rate limiting.", nil},
	{"chrony_serverstats_client_log_records_dropped_total", "The number of client log records dropped by the server to limit the memory use.", nil},
	{"chrony_serverstats_authenticated_ntp_packets_total", "The number of received NTP requests that were authenticated (with a symmetric key or NTS).", nil},
	{"chrony_serverstats_interleaved_ntp_packets_total", "The number of received NTP requests that were detected to be in the interleaved mode.", nil},
	{"chrony_serverstats_ntp_timestamps_held", "The number of pairs of receive and transmit timestamps that the server is currently holding in memory for clients using the interleaved mode.", nil},
	{"chrony_serverstats_ntp_timestamp_span_seconds", "The interval (in seconds) covered by the currently held NTP timestamps.", nil},

	{"chrony_clients_connected", "The number of clients in chronyd's log. The protocol label is \"nts\" for clients that completed an NTS-KE handshake and \"ntp\" for the rest. Saturates at the client log size (clientloglimit).", []string{"protocol"}},
	{"chrony_clients_last_ntp_hit_ago_seconds", "Histogram of the time since the last NTP request from each client, in seconds. Clients that have not sent an NTP request are not included.", nil},
	{"chrony_clients_ntp_interval_seconds", "Histogram of the mean interval between NTP requests from each client, in seconds. Clients that chronyd has not measured an interval for, such as those seen only once, are not included.", nil},
	{"chrony_clients_ntp_drops", "Histogram of the number of NTP requests dropped (rate limited) per client.", nil},
}

// TestChronyExporterDescs: every metric of chrony_exporter's list is
// exported, under its name, with its help text and its label names; a
// chrony_* metric that chrony_exporter does not have is named here so
// that adding one is a decision.
func TestChronyExporterDescs(t *testing.T) {
	c := &ChronyCollector{Get: func(context.Context) (*NTPData, error) { return testNTPData(), nil }}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		help   string
		labels []string
	}
	have := map[string]got{}
	for _, f := range fams {
		var labels []string
		if ms := f.GetMetric(); len(ms) > 0 {
			for _, l := range ms[0].GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
		have[f.GetName()] = got{f.GetHelp(), labels}
	}
	known := map[string]bool{}
	for _, d := range chronyExporter {
		known[d.name] = true
		g, ok := have[d.name]
		if !ok {
			t.Errorf("%s: not exported", d.name)
			continue
		}
		if g.help != d.help {
			t.Errorf("%s: help %q, chrony_exporter's is %q", d.name, g.help, d.help)
		}
		want := slices.Clone(d.labels)
		slices.Sort(want) // the text format sorts label names
		if !slices.Equal(g.labels, want) {
			t.Errorf("%s: labels %v, chrony_exporter's are %v", d.name, g.labels, want)
		}
	}
	// ntpbox's own additions under chrony_: none but the leap status.
	extra := map[string]bool{"chrony_tracking_leap_status": true}
	for name := range have {
		if len(name) > 7 && name[:7] == "chrony_" && !known[name] && !extra[name] {
			t.Errorf("%s: not a chrony_exporter metric", name)
		}
	}
}

// TestSourceLabels: source_state and source_mode carry chrony_exporter's
// words (facebook/time's names of chrony's states and modes), and
// reachability_success is the newest bit of the reach register.
func TestSourceLabels(t *testing.T) {
	for _, tc := range []struct {
		state, mode         string
		wantState, wantMode string
	}{
		{"*", "^", "sync", "client"},
		{"+", "^", "candidate", "client"},
		{"-", "=", "outlier", "peer"},
		{"?", "#", "unreach", "reference clock"},
		{"x", "^", "falseticker", "client"},
		{"~", "^", "jittery", "client"},
	} {
		d := testNTPData()
		d.Sources[0].State, d.Sources[0].Mode = tc.state, tc.mode
		d.Sources[0].Reach = 0o376 // the last poll went unanswered
		ch := make(chan prometheus.Metric, 64)
		collectSources(ch, d.Sources)
		close(ch)
		var sawState, sawSuccess bool
		for m := range ch {
			pb := metricPB(t, m)
			switch m.Desc() {
			case sourcesStateInfo:
				sawState = true
				l := map[string]string{}
				for _, lp := range pb.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				if l["source_state"] != tc.wantState || l["source_mode"] != tc.wantMode {
					t.Errorf("%s%s: state %q mode %q, want %q %q", tc.mode, tc.state, l["source_state"], l["source_mode"], tc.wantState, tc.wantMode)
				}
			case sourcesReachLast:
				sawSuccess = true
				if v := pb.GetGauge().GetValue(); v != 0 {
					t.Errorf("reach 0376: reachability_success %v, want 0", v)
				}
			}
		}
		if !sawState || !sawSuccess {
			t.Errorf("%s%s: state_info %v, reachability_success %v", tc.mode, tc.state, sawState, sawSuccess)
		}
	}
}

func metricPB(t *testing.T, m prometheus.Metric) *dto.Metric {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return &pb
}
