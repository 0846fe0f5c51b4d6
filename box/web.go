package box

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/web"
)

// ServiceWeb is the status page and /metrics (`http`). In `ntpbox
// serve` it runs in the one process; on the appliance it is its own
// process, without CAP_SYS_TIME, which asks each other service for its
// part over a unix socket (PartSocket).
const ServiceWeb Service = "web"

// PartSocket is where service svc serves its part of the page and of
// /metrics to the web service, when the services run as separate
// processes: HTTP over a unix socket, /metrics and /status (JSON of a
// web.Status with only that service's fields).
func PartSocket(svc Service) string {
	return filepath.Join(filepath.Dir(control.DefaultSocketPath), "web-"+string(svc)+".sock")
}

// Version is ntpbox's version, for ntpbox_build_info and the page; the
// command sets it.
var Version = "dev"

// webListenAddrs are the host:port pairs `http` asks for with links ns.
func webListenAddrs(cfg *config.Config, ns netstate.State) []string {
	h := cfg.HTTP
	if h == nil {
		return nil
	}
	port := strconv.Itoa(h.Port)
	var out []string
	if h.LAN {
		for _, l := range ns.Links {
			if !l.Up || l.Loopback {
				continue
			}
			for _, p := range l.Addrs {
				if a := p.Addr(); !a.IsLinkLocalUnicast() {
					out = append(out, net.JoinHostPort(a.String(), port))
				}
			}
		}
	}
	for _, ap := range h.ListenAddrs() {
		out = append(out, ap.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// part is what one process knows of the page and the metrics.
type part struct {
	svcs []Service // the services this process runs
	ntp  *provider // nil unless it runs NTP
	disc *discoveryRunner
	cfg  func() *config.Config
	reg  *prometheus.Registry
}

// newPart makes the registry of a process running svcs: the process and
// Go collectors (labelled service=NAME when the appliance runs one
// service per process, so that the web service can merge them), the
// chrony metrics when it runs NTP, and the discovery metrics.
func newPart(svcs []Service, ntp *provider, disc *discoveryRunner, cfg func() *config.Config, split bool) *part {
	p := &part{svcs: svcs, ntp: ntp, disc: disc, cfg: cfg, reg: prometheus.NewRegistry()}
	var r prometheus.Registerer = p.reg
	if split && len(svcs) == 1 {
		r = prometheus.WrapRegistererWith(prometheus.Labels{"service": string(svcs[0])}, p.reg)
	}
	r.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	if ntp != nil {
		p.reg.MustRegister(&web.ChronyCollector{Get: func(context.Context) (*web.NTPData, error) {
			return &web.NTPData{Tracking: ntp.Tracking(), Sources: ntp.Sources(), Clients: ntp.Clients(), ServerStats: ntp.ServerStats()}, nil
		}})
	}
	if disc != nil && (disc.dhcp || disc.dns) {
		p.reg.MustRegister(&discoveryCollector{r: disc})
	}
	if !split || slices.Contains(svcs, ServiceWeb) {
		p.reg.MustRegister(web.BuildInfo(Version))
	}
	return p
}

// status is this process's part of the page.
func (p *part) status() *web.Status {
	st := &web.Status{Now: time.Now()}
	if p.ntp != nil {
		st.Tracking = p.ntp.Tracking()
		st.Sources = p.ntp.Sources()
		st.Clients = p.ntp.Clients()
		st.ServerStats = p.ntp.ServerStats()
		st.History = p.ntp.History()
	}
	if p.disc != nil {
		st.Leases, st.Records = p.disc.pageData()
	}
	return st
}

// serveSocket serves the part at PartSocket(svc) for the web service.
func (p *part) serveSocket(ctx context.Context, svc Service, wg *sync.WaitGroup, log *slog.Logger) {
	path := PartSocket(svc)
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		log.Warn("the status page and /metrics will lack this service", "socket", path, "err", err)
		return
	}
	os.Chmod(path, 0o660)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p.status())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
	wg.Go(func() { srv.Serve(ln) })
	wg.Go(func() {
		<-ctx.Done()
		srv.Close()
		os.Remove(path)
	})
}

// unixClient talks HTTP to a PartSocket.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxResponseHeaderBytes: 16 << 10,
	}}
}

// maxPartBytes bounds what the web service reads from another service.
const maxPartBytes = 16 << 20

// remoteGatherer gathers another service's metrics from its PartSocket.
type remoteGatherer struct {
	svc    Service
	client *http.Client
}

func (g remoteGatherer) Gather() ([]*dto.MetricFamily, error) {
	resp, err := g.client.Get("http://" + string(g.svc) + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("%s service: %w", g.svc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s service: /metrics: %s", g.svc, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxPartBytes))
	if err != nil {
		return nil, fmt.Errorf("%s service: /metrics: %w", g.svc, err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}

// remoteStatus reads another service's part of the page.
func remoteStatus(ctx context.Context, svc Service, client *http.Client) (*web.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+string(svc)+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the %s service does not answer: %w", svc, err)
	}
	defer resp.Body.Close()
	var st web.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPartBytes)).Decode(&st); err != nil {
		return nil, fmt.Errorf("the %s service's status: %w", svc, err)
	}
	return &st, nil
}

// merge copies into dst the fields src has.
func merge(dst, src *web.Status) {
	if src.Tracking.RefName != "" || src.Tracking.Stratum != 0 || src.Tracking.Leap != "" {
		dst.Tracking = src.Tracking
	}
	dst.Sources = append(dst.Sources, src.Sources...)
	dst.Clients = append(dst.Clients, src.Clients...)
	if src.ServerStats != (control.ServerStats{}) {
		dst.ServerStats = src.ServerStats
	}
	dst.History = append(dst.History, src.History...)
	dst.Leases = append(dst.Leases, src.Leases...)
	dst.Records = append(dst.Records, src.Records...)
	dst.Log = append(dst.Log, src.Log...)
	dst.Errors = append(dst.Errors, src.Errors...)
}

// configLines are the merged config as `ntpbox config` prints it, each
// line with its origin.
func configLines(cfg *config.Config) []web.ConfigLine {
	var b bytes.Buffer
	if err := cfg.Render(&b); err != nil {
		return []web.ConfigLine{{Text: "# " + err.Error()}}
	}
	var out []web.ConfigLine
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			out = append(out, web.ConfigLine{Text: line})
			continue
		}
		text, origin, _ := strings.Cut(line, " # ")
		out = append(out, web.ConfigLine{Text: strings.TrimSpace(text), Origin: strings.TrimSpace(origin)})
	}
	return out
}

// webRunner runs the HTTP server of this process, following the links.
type webRunner struct {
	srv *web.Server
}

// startWeb starts the status page and /metrics. local is this process's
// part; others are the services that run in other processes (the
// appliance), asked over their PartSocket; logs gives the log lines
// (nil: none kept).
func startWeb(cfg *config.Config, ns netstate.State, local *part, others []Service, logs func(context.Context) ([]string, error), log *slog.Logger) *webRunner {
	gs := prometheus.Gatherers{local.reg}
	clients := map[Service]*http.Client{}
	for _, s := range others {
		c := unixClient(PartSocket(s))
		clients[s] = c
		gs = append(gs, remoteGatherer{svc: s, client: c})
	}
	gather := func(ctx context.Context) *web.Status {
		st := local.status()
		for _, s := range others {
			part, err := remoteStatus(ctx, s, clients[s])
			if err != nil {
				st.Errors = append(st.Errors, err.Error())
				continue
			}
			merge(st, part)
		}
		st.Hostname, _ = os.Hostname()
		st.Version = Version
		c := local.cfg()
		st.Config = configLines(c)
		if logs != nil {
			lines, err := logs(ctx)
			if err != nil {
				st.Errors = append(st.Errors, "the log: "+err.Error())
			}
			if len(lines) > 200 {
				lines = lines[len(lines)-200:]
			}
			st.Log = lines
		}
		return st
	}
	r := &webRunner{srv: web.NewServer(web.Handler(gather, gs, log), log)}
	r.follow(cfg, ns)
	return r
}

func (r *webRunner) follow(cfg *config.Config, ns netstate.State) {
	if r == nil {
		return
	}
	r.srv.Listen(webListenAddrs(cfg, ns))
}

func (r *webRunner) close() {
	if r != nil {
		r.srv.Close()
	}
}

// discoveryCollector exports the DHCP and DNS services' counters as
// ntpbox_* metrics.
type discoveryCollector struct{ r *discoveryRunner }

var (
	dhcpLeases   = prometheus.NewDesc("ntpbox_dhcp_leases", "DHCP leases in the lease table, by state (bound, offered, expired).", []string{"state"}, nil)
	dhcpMessages = prometheus.NewDesc("ntpbox_dhcp_replies_total", "DHCP replies sent or requests handled, by type (offer, ack, nak, inform, release, decline).", []string{"type"}, nil)
	dhcpProblems = prometheus.NewDesc("ntpbox_dhcp_requests_rejected_total", "DHCP requests not answered, by reason (malformed, ignored, exhausted, conflict, dropped_busy).", []string{"reason"}, nil)
	dhcpReceived = prometheus.NewDesc("ntpbox_dhcp_requests_received_total", "DHCP requests received that decode.", nil, nil)
	dhcpWrites   = prometheus.NewDesc("ntpbox_dhcp_lease_file_writes_total", "Lease-file writes, by result (ok, error).", []string{"result"}, nil)
	dnsQueries   = prometheus.NewDesc("ntpbox_dns_queries_total", "DNS queries answered by the zone (dns zone), by question type.", []string{"qtype"}, nil)
	dnsRcodes    = prometheus.NewDesc("ntpbox_dns_responses_total", "DNS answers of the zone, by rcode (NOERROR, NXDOMAIN, REFUSED...).", []string{"rcode"}, nil)
	dnsTCP       = prometheus.NewDesc("ntpbox_dns_tcp_connections_total", "DNS TCP connections, by outcome (accepted, refused, timed_out, oversized, malformed).", []string{"outcome"}, nil)
	mdnsQueries  = prometheus.NewDesc("ntpbox_mdns_queries_total", "mDNS queries received, by outcome (answered, ignored, limited).", []string{"outcome"}, nil)
)

func (c *discoveryCollector) Describe(chan<- *prometheus.Desc) {}

func (c *discoveryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.stats()
	cnt := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	if c.r.dhcp {
		now := time.Now()
		var bound, offered, expired int
		for _, l := range s.leases {
			switch {
			case l.Offered:
				offered++
			case l.Expires.Before(now):
				expired++
			default:
				bound++
			}
		}
		for st, n := range map[string]int{"bound": bound, "offered": offered, "expired": expired} {
			ch <- prometheus.MustNewConstMetric(dhcpLeases, prometheus.GaugeValue, float64(n), st)
		}
		h := s.dhcp
		for t, n := range map[string]uint64{"offer": h.Offers, "ack": h.Acks, "nak": h.Naks, "inform": h.Informs, "release": h.Releases, "decline": h.Declines} {
			cnt(dhcpMessages, n, t)
		}
		for t, n := range map[string]uint64{"malformed": h.Malformed, "ignored": h.Ignored, "exhausted": h.Exhausted, "conflict": h.Conflicts, "dropped_busy": s.server.Dropped} {
			cnt(dhcpProblems, n, t)
		}
		cnt(dhcpReceived, s.server.Received)
		cnt(dhcpWrites, s.server.Writes, "ok")
		cnt(dhcpWrites, s.server.WriteErr, "error")
	}
	if c.r.dns {
		for t, n := range s.dns.ByType {
			cnt(dnsQueries, n, t)
		}
		for t, n := range s.dns.ByRcode {
			cnt(dnsRcodes, n, t)
		}
		for t, n := range map[string]uint64{"accepted": s.tcp.Accepted, "refused": s.tcp.Refused, "timed_out": s.tcp.TimedOut, "oversized": s.tcp.Oversized, "malformed": s.tcp.Malformed} {
			cnt(dnsTCP, n, t)
		}
		for t, n := range map[string]uint64{"answered": s.mdns.Answered, "ignored": s.mdns.Ignored, "limited": s.mdns.Limited} {
			cnt(mdnsQueries, n, t)
		}
	}
}

// LogRing keeps the last lines a process logged, for `ntpbox serve`'s
// page (on the appliance, init keeps the log).
type LogRing struct {
	mu    sync.Mutex
	lines []string
}

func (r *LogRing) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		r.lines = append(r.lines, l)
	}
	if n := len(r.lines); n > 400 {
		r.lines = slices.Clone(r.lines[n-200:])
	}
	return len(b), nil
}

func (r *LogRing) Last(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) > 200 {
		return slices.Clone(r.lines[len(r.lines)-200:]), nil
	}
	return slices.Clone(r.lines), nil
}
