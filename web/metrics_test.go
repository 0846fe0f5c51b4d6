package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

func testNTPData() *NTPData {
	return &NTPData{
		Tracking: upstream.TrackingReport{RefID: 0xC6120001, RefName: "198.18.0.1", Stratum: 3, RefTime: time.Unix(1796400000, 0),
			SystemTime: 12 * time.Microsecond, LastOffset: -34 * time.Microsecond, RMSOffset: 50 * time.Microsecond, Frequency: -12.5,
			Skew: 0.2, RootDelay: 2 * time.Millisecond, RootDispersion: time.Millisecond, UpdateInterval: 64 * time.Second, Leap: "Normal",
			RememberedJump: 1.5},
		Sources: []upstream.SourceReport{{Name: "198.18.0.1", Addr: netip.MustParseAddrPort("198.18.0.1:123"), Mode: "^", State: "*",
			Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 10 * time.Second, AdjustedOffset: -40 * time.Microsecond, ErrorBound: time.Millisecond,
			NP: 8, NR: 4, Span: 400 * time.Second, Frequency: 0.01, FreqSkew: 0.1, Offset: 5 * time.Microsecond, StdDev: 20 * time.Microsecond}},
		Clients: []control.ClientReport{
			{Addr: netip.MustParseAddr("198.18.0.10"), NTP: 10, Interval: 6, LastAgo: 3 * time.Second},
			{Addr: netip.MustParseAddr("198.18.0.11"), NTP: 5, Drop: 7, KoD: 2, Interval: 127, LastAgo: 100 * time.Second},
		},
		ServerStats: control.ServerStats{NTPHits: 22, NTPDrops: 7, CmdHits: 3, KoDs: 2},
	}
}

// TestChronyExporterNames: the metrics carry chrony_exporter's names, so
// that its dashboards work; the values are the reports', in seconds.
func TestChronyExporterNames(t *testing.T) {
	c := &ChronyCollector{Get: func(context.Context) (*NTPData, error) { return testNTPData(), nil }}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	// chrony_exporter's names (collector/{tracking,sources,sourcestats,serverstats,clients}.go).
	want := []string{
		"chrony_up", "chrony_tracking_info", "chrony_tracking_last_offset_seconds", "chrony_tracking_reference_timestamp_seconds",
		"chrony_tracking_remote_reference", "chrony_tracking_rms_offset_seconds", "chrony_tracking_stratum",
		"chrony_sources_last_sample_age_seconds", "chrony_sources_last_sample_offset_seconds",
		"chrony_sources_last_sample_error_margin_seconds", "chrony_sources_polling_interval_seconds",
		"chrony_sources_state_info", "chrony_sources_stratum",
		"chrony_sourcestats_samples", "chrony_sourcestats_runs", "chrony_sourcestats_span_seconds", "chrony_sourcestats_stddev",
		"chrony_sourcestats_frequency_ppms", "chrony_sourcestats_frequency_skew_ppms", "chrony_sourcestats_offset",
		"chrony_serverstats_ntp_packets_received_total", "chrony_serverstats_command_packets_received_total",
		"chrony_serverstats_ntp_packets_dropped_total", "chrony_serverstats_command_packets_dropped_total",
		"chrony_serverstats_client_log_records_dropped_total", "chrony_serverstats_interleaved_ntp_packets_total",
		"chrony_serverstats_ntp_timestamps_held", "chrony_serverstats_ntp_timestamp_span_seconds",
		"chrony_clients_connected", "chrony_clients_last_ntp_hit_ago_seconds", "chrony_clients_ntp_interval_seconds", "chrony_clients_ntp_drops",
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("no %s", n)
		}
	}
	expect := `
# HELP chrony_tracking_last_offset_seconds Chrony tracking last offset in seconds
# TYPE chrony_tracking_last_offset_seconds gauge
chrony_tracking_last_offset_seconds -3.4e-05
# HELP chrony_tracking_stratum Chrony tracking client stratum
# TYPE chrony_tracking_stratum gauge
chrony_tracking_stratum 3
# HELP chrony_sources_state_info Chrony sources state info
# TYPE chrony_sources_state_info gauge
chrony_sources_state_info{source_address="198.18.0.1",source_mode="client",source_name="198.18.0.1",source_state="sync"} 1
# HELP chrony_serverstats_ntp_packets_dropped_total The number of NTP requests dropped by the server due to rate limiting.
# TYPE chrony_serverstats_ntp_packets_dropped_total counter
chrony_serverstats_ntp_packets_dropped_total 7
# HELP chrony_tracking_info Chrony tracking info
# TYPE chrony_tracking_info gauge
chrony_tracking_info{tracking_address="198.18.0.1",tracking_name="198.18.0.1",tracking_refid="C6120001"} 1
# HELP ntpbox_tracking_remembered_jump_ppms The frequency jump of the box's own oscillator that the served root dispersion still allows for, in PPMs; 0 when none is remembered or the box is not synchronised to a source.
# TYPE ntpbox_tracking_remembered_jump_ppms gauge
ntpbox_tracking_remembered_jump_ppms 1.5
# HELP ntpbox_ntp_ratelimit_kod_total NTP requests answered with a RATE kiss-o'-death by the rate limiter.
# TYPE ntpbox_ntp_ratelimit_kod_total counter
ntpbox_ntp_ratelimit_kod_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expect), "chrony_tracking_last_offset_seconds", "chrony_tracking_stratum",
		"chrony_sources_state_info", "chrony_serverstats_ntp_packets_dropped_total", "chrony_tracking_info", "ntpbox_ntp_ratelimit_kod_total",
		"ntpbox_tracking_remembered_jump_ppms"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "chrony_clients_ntp_interval_seconds"); err != nil || n != 1 {
		t.Errorf("clients interval histogram: %d, %v", n, err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader("# HELP chrony_up Whether the chrony server is up.\n# TYPE chrony_up gauge\nchrony_up 1\n"), "chrony_up"); err != nil {
		t.Error(err)
	}
}

// TestChronyDown: a daemon that does not answer makes chrony_up 0 and
// nothing else.
func TestChronyDown(t *testing.T) {
	c := &ChronyCollector{Get: func(context.Context) (*NTPData, error) { return nil, errors.New("no daemon") }}
	if err := testutil.CollectAndCompare(c, strings.NewReader("# HELP chrony_up Whether the chrony server is up.\n# TYPE chrony_up gauge\nchrony_up 0\n")); err != nil {
		t.Error(err)
	}
}

// TestHandler: / is the page, /metrics the registry, anything else 404,
// and nothing but GET and HEAD is allowed.
func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(BuildInfo("v1.2.3"))
	d := testNTPData()
	h := Handler(func(context.Context) *Status {
		return &Status{Now: time.Now(), Hostname: "ntpbox-<b>", Tracking: d.Tracking, Sources: d.Sources, Clients: d.Clients}
	}, reg, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, `id="sources"`},
		{"GET", "/index.html", 200, "ntpbox-&lt;b&gt;"},
		{"HEAD", "/", 200, ""},
		{"GET", "/metrics", 200, `ntpbox_build_info{goversion=`},
		{"GET", "/favicon.ico", 404, ""},
		{"GET", "/../etc/passwd", 404, ""},
		{"POST", "/", 405, "read-only"},
		{"PUT", "/metrics", 405, ""},
		{"DELETE", "/", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %d, want %d with %q:\n%.500s", tc.method, tc.path, resp.StatusCode, tc.code, tc.body, b)
		}
		if tc.path == "/" && tc.code == 200 && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s /: no Content-Security-Policy", tc.method)
		}
	}
}

// TestServerLimits: a request with an oversized header is refused, and
// the server follows its address list.
func TestServerLimits(t *testing.T) {
	s := NewServer(Handler(func(context.Context) *Status { return &Status{} }, prometheus.NewRegistry(), nil), nil)
	defer s.Close()
	s.Listen([]string{"127.0.0.1:0"})
	addrs := s.Addrs()
	if len(addrs) != 1 {
		t.Fatalf("addrs %v", addrs)
	}
	// 127.0.0.1:0 is the key; find the real port from a second listen
	// with a fixed one instead.
	s.Listen(nil)
	if a := s.Addrs(); len(a) != 0 {
		t.Fatalf("after Listen(nil): %v", a)
	}
	ln := httptest.NewUnstartedServer(nil)
	port := ln.Listener.Addr().String()
	ln.Listener.Close()
	s.Listen([]string{port})
	req, _ := http.NewRequest("GET", "http://"+port+"/metrics", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
	}
	resp, err = http.Get("http://" + port + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /metrics: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}
