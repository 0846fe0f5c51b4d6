package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeHTTP: `ntpbox serve -x` with `http 127.0.0.1 port 8123`, in a
// network namespace, following a real chronyd: /metrics passes Debian's
// `promtool check metrics` and carries chrony_exporter's names with the
// values `ntpbox tracking` and `sources` print; / is the status page
// with the source and the config with its origins; other paths are 404
// and other methods 405; nothing listens on port 80 or on other
// addresses.
func TestServeHTTP(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "curl", "promtool")
	ns := newNetns(t)
	run(t, "ip", "-n", ns.name, "addr", "add", "198.18.0.2/24", "dev", "lo")
	startChronydServer(t, ns, "127.0.0.11")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ntpbox.sock")
	f := writeFile(t, dir, "ntpbox.conf", "server 127.0.0.11 iburst minpoll 1 maxpoll 1\nallow 127.0.0.0/8\n"+
		"bindaddress 127.0.0.1\nlocal stratum 10\nbindcmdaddress "+sock+"\nhttp 127.0.0.1 port 8123\n")
	ns.start(ntpboxBin, "serve", "-x", "-f", f)
	waitFor(t, "ntpbox to follow 127.0.0.11", 30*time.Second, func() bool {
		_, states := sourcesTable(t, ns, sock)
		return states["127.0.0.11"] == "*"
	})
	// A few client requests, for serverstats and the clients histograms.
	for range 3 {
		if out, err := ns.output(5*time.Second, ntpboxBin, "query", "-t", "1s", "127.0.0.1"); err != nil {
			t.Fatalf("ntpbox query: %v\n%s", err, out)
		}
	}

	get := func(method, url string) reply {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "ip", "netns", "exec", ns.name, "curl", "-sS", "-X", method,
			"-o", "/dev/stdout", "-w", "\n%{http_code}", url)
		out, err := c.Output()
		if err != nil {
			return reply{code: -1, body: err.Error()}
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		code, _ := strconv.Atoi(s[i+1:])
		return reply{code, s[:i]}
	}

	base := "http://127.0.0.1:8123"
	m := get("GET", base+"/metrics")
	if m.code != 200 {
		t.Fatalf("GET /metrics: %d %s", m.code, m.body)
	}
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(m.body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// The values are the daemon's own reports.
	trk, err := ns.output(5*time.Second, ntpboxBin, "tracking", "-s", sock)
	if err != nil {
		t.Fatalf("ntpbox tracking: %v\n%s", err, trk)
	}
	stratum := regexp.MustCompile(`(?m)^Stratum\s*:\s*(\d+)`).FindStringSubmatch(trk)
	if stratum == nil {
		t.Fatalf("no stratum in:\n%s", trk)
	}
	for _, want := range []string{
		"chrony_up 1",
		"chrony_tracking_stratum " + stratum[1] + "\n",
		`chrony_tracking_info{tracking_address="127.0.0.11",tracking_name="127.0.0.11",tracking_refid="7F00000B"} 1`,
		`chrony_tracking_remote_reference 1`,
		`chrony_sources_state_info{source_address="127.0.0.11",source_mode="client",source_name="127.0.0.11",source_state="sync"} 1`,
		`chrony_sources_stratum{source_address="127.0.0.11",source_name="127.0.0.11"} 2`,
		`chrony_clients_connected{protocol="ntp"} 1`,
		"# HELP chrony_tracking_frequency_ppms Rate by which the system's clock would be wrong if chronyd was not correcting it, in PPMs",
		`ntpbox_build_info{goversion="go`,
		"process_resident_memory_bytes ", "go_goroutines ",
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if v := metricValue(m.body, "chrony_serverstats_ntp_packets_received_total"); v < 3 {
		t.Errorf("chrony_serverstats_ntp_packets_received_total %v, want at least the 3 queries", v)
	}
	if strings.Contains(m.body, `service="`) {
		t.Errorf("one process: no service label wanted:\n%s", m.body)
	}

	page := get("GET", base+"/")
	if page.code != 200 || !strings.Contains(page.body, "127.0.0.11") || !strings.Contains(page.body, "http 127.0.0.1 port 8123") ||
		!strings.Contains(page.body, "ntpbox.conf:6") {
		t.Errorf("GET /: %d, want the page with the source and the config line with its origin:\n%.3000s", page.code, page.body)
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"HEAD", "/metrics", 200}, {"GET", "/nothing", 404}, {"POST", "/", 405}, {"PUT", "/metrics", 405}, {"DELETE", "/", 405},
	} {
		method := tc.method
		var r reply
		if method == "HEAD" {
			r = headCode(t, ns, base+tc.path)
		} else {
			r = get(method, base+tc.path)
		}
		if r.code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, r.code, tc.code)
		}
	}
	// Only where `http` says.
	for _, url := range []string{"http://127.0.0.1:80/", "http://198.18.0.2:8123/"} {
		if r := get("GET", url); r.code != -1 && r.code != 0 {
			t.Errorf("GET %s: %d; nothing should listen there", url, r.code)
		}
	}
}

// reply is an HTTP status (-1: no connection) and body.
type reply struct {
	code int
	body string
}

// headCode is HEAD through curl -I (curl -X HEAD waits for a body).
func headCode(t *testing.T, ns *netns, url string) (r reply) {
	t.Helper()
	out, err := ns.output(10*time.Second, "curl", "-sS", "-I", "-o", "/dev/null", "-w", "%{http_code}", url)
	if err != nil {
		r.code = -1
		return r
	}
	r.code, _ = strconv.Atoi(strings.TrimSpace(out))
	return r
}

// metricValue is the value of the first sample of name (no labels) in
// text, or -1.
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}
