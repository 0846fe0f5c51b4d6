package qemu_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// TestMetricsInVM: the booted image serves /metrics on port 80 of its
// LAN address (`http lan`, the appliance's default) from its own web
// service; Debian's promtool accepts it; a real Prometheus in the LAN
// scrapes it for 60 s, and a PromQL query for the offset returns the
// samples. The page at / answers too, with its sources table.
func TestMetricsInVM(t *testing.T) {
	qemu.RequireT(t, qemu.FindImage(), "curl", "promtool", "prometheus")
	lab, vm := bootLab(t, "virtio-net-pci", 256)
	firstReply(t, lab, vm)
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	base := "http://" + qemu.LabVMAddr
	get := func(path string) ([]byte, error) {
		var out []byte
		var err error
		// The web service starts after NTP's first process: allow it a
		// while under TCG.
		for deadline := time.Now().Add(60 * time.Second); ; {
			out, err = lab.Client("curl", "-sS", "-f", "--max-time", "10", base+path).Output()
			if err == nil || time.Now().After(deadline) {
				return out, err
			}
			time.Sleep(2 * time.Second)
		}
	}
	metrics, err := get("/metrics")
	if err != nil {
		t.Fatalf("GET /metrics from the LAN: %v", err)
	}
	t.Logf("/metrics: %d bytes, %d lines", len(metrics), bytes.Count(metrics, []byte("\n")))
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = bytes.NewReader(metrics)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	text := string(metrics)
	for _, want := range []string{
		"chrony_up 1", "chrony_tracking_stratum ", "chrony_tracking_last_offset_seconds ", "chrony_tracking_info{",
		"chrony_serverstats_ntp_packets_received_total ", "chrony_clients_connected{protocol=\"ntp\"}",
		"ntpbox_build_info{", "ntpbox_dhcp_leases{", "ntpbox_dhcp_replies_total{", "ntpbox_mdns_queries_total{",
		"ntpbox_ntp_ratelimit_kod_total ",
		`process_resident_memory_bytes{service="ntp"}`, `process_resident_memory_bytes{service="dhcp"}`,
		`process_resident_memory_bytes{service="dns"}`, `process_resident_memory_bytes{service="web"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}

	page, err := get("/")
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	if !bytes.Contains(page, []byte(`id="sources"`)) {
		t.Errorf("the page at / has no sources table:\n%.2000s", page)
	}
	if out, err := lab.Client("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", base+"/").Output(); string(out) != "405" {
		t.Errorf("POST /: %s %v, want 405 (the page is read-only)", out, err)
	}

	// A real Prometheus in the LAN namespace, scraping every 5 s for 60 s.
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\nscrape_configs:\n  - job_name: ntpbox\n    static_configs:\n      - targets: ['%s:80']\n", qemu.LabVMAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	const promAddr = "127.0.0.1:19090"
	var promLog bytes.Buffer
	prom := lab.Client("prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Kill()
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	start := time.Now()
	time.Sleep(60 * time.Second)
	end := time.Now()
	q := url.Values{
		"query": {"chrony_tracking_last_offset_seconds"},
		"start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"5"},
	}
	out, err := lab.Client("curl", "-sS", "-f", "--max-time", "10", "http://"+promAddr+"/api/v1/query_range?"+q.Encode()).Output()
	if err != nil {
		t.Fatalf("PromQL query_range: %v", err)
	}
	var res struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("PromQL answer %q: %v", out, err)
	}
	n := 0
	for _, r := range res.Data.Result {
		n += len(r.Values)
	}
	t.Logf("PromQL chrony_tracking_last_offset_seconds over %s: status %s, %d series, %d points", end.Sub(start).Round(time.Second), res.Status, len(res.Data.Result), n)
	if res.Status != "success" || len(res.Data.Result) != 1 || n < 6 {
		t.Errorf("PromQL: want one series with at least 6 points over 60 s at a 5 s step, got %s", out)
	}
	up, _ := lab.Client("curl", "-sS", "--max-time", "10", "http://"+promAddr+"/api/v1/query?query=up").Output()
	t.Logf("PromQL up: %s", up)
	if !strings.Contains(string(up), `"value":[`) || !strings.Contains(string(up), `,"1"]`) {
		t.Errorf("PromQL up: want the target up (1): %s", up)
	}
}
