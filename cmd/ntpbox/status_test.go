package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// statusProvider is a daemon with one synchronised source, one
// unreachable, and one client.
type statusProvider struct{}

func (statusProvider) Sources() []upstream.SourceReport {
	return []upstream.SourceReport{
		{Name: "ntp1.example.net", Addr: netip.MustParseAddrPort("192.0.2.1:123"), Mode: "^", State: "*",
			Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 23 * time.Second,
			AdjustedOffset: -923 * time.Microsecond, MeasuredOffset: -924 * time.Microsecond, ErrorBound: 43 * time.Millisecond,
			NP: 11, NR: 5, Span: 46 * time.Minute, Frequency: -0.001, FreqSkew: 0.045, Offset: time.Microsecond, StdDev: 25 * time.Microsecond,
			Selectable: true},
		{Name: "2001:db8:1234:5678:9abc:def0:1234:5678", Mode: "^", State: "?", Poll: 6, LastRx: -1, FreqSkew: 2000, StdDev: 4 * time.Second},
	}
}

func (statusProvider) Tracking() upstream.TrackingReport {
	return upstream.TrackingReport{
		RefID: 0xC0000201, RefName: "ntp1.example.net", Stratum: 3,
		RefTime:    time.Date(2017, 1, 27, 9, 49, 17, 0, time.UTC),
		SystemTime: -6523 * time.Nanosecond, LastOffset: -6747 * time.Nanosecond, RMSOffset: 35822 * time.Nanosecond,
		Frequency: -3.225, Skew: 0.129, RootDelay: 13639022, RootDispersion: 1100737,
		UpdateInterval: 64200 * time.Millisecond, Leap: "Normal", ClockControl: true,
	}
}

func (statusProvider) Clients() []control.ClientReport {
	return []control.ClientReport{{Addr: netip.MustParseAddr("192.168.1.20"), NTP: 1234, Interval: 6, LastAgo: 23 * time.Second}}
}

// startStatusServer serves statusProvider on a fresh socket until the
// test ends.
func startStatusServer(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "st") // short: a socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "ntpbox.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- control.Serve(ln, statusProvider{}, nil) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func runStatusT(t *testing.T, cmd string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = runStatus(cmd, args, nil, &o, &e)
	return o.String(), e.String(), code
}

// TestStatusPrintsAsChronyc runs each command against a daemon and wants
// the control package's chronyc formatting of the daemon's reports.
func TestStatusPrintsAsChronyc(t *testing.T) {
	sock := startStatusServer(t)
	p := statusProvider{}
	format := func(f func(*bytes.Buffer) error) string {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"sources", nil, format(func(b *bytes.Buffer) error { return control.FormatSources(b, p.Sources(), false) })},
		{"sources", []string{"-v"}, format(func(b *bytes.Buffer) error { return control.FormatSources(b, p.Sources(), true) })},
		{"sourcestats", nil, format(func(b *bytes.Buffer) error { return control.FormatSourceStats(b, p.Sources(), false) })},
		{"sourcestats", []string{"-v"}, format(func(b *bytes.Buffer) error { return control.FormatSourceStats(b, p.Sources(), true) })},
		{"tracking", nil, format(func(b *bytes.Buffer) error { return control.FormatTracking(b, p.Tracking()) })},
		{"clients", nil, format(func(b *bytes.Buffer) error { return control.FormatClients(b, p.Clients()) })},
	} {
		t.Run(strings.Join(append([]string{tc.cmd}, tc.args...), " "), func(t *testing.T) {
			out, errOut, code := runStatusT(t, tc.cmd, append(tc.args, "-s", sock)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
		})
	}

	// And a line as an admin would read it.
	out, _, _ := runStatusT(t, "sources", "-s", sock)
	if !strings.Contains(out, "^* ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms\n") ||
		!strings.Contains(out, "^? 2001:db8:1234:5678:9abc:>     0   6     0     -     +0ns[   +0ns] +/-    0ns\n") {
		t.Errorf("sources:\n%s", out)
	}
}

// --json gives every duration in seconds, as a float (chronyc -c and
// Prometheus do too), and the other fields as they are.
func TestStatusJSON(t *testing.T) {
	sock := startStatusServer(t)
	get := func(cmd string, into any) {
		t.Helper()
		out, errOut, code := runStatusT(t, cmd, "--json", "-s", sock)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", cmd, code, errOut)
		}
		if err := json.Unmarshal([]byte(out), into); err != nil {
			t.Fatalf("%s --json: %v\n%s", cmd, err, out)
		}
	}
	near := func(what string, got any, want float64) {
		t.Helper()
		f, ok := got.(float64)
		if !ok || math.Abs(f-want) > 1e-12 {
			t.Errorf("%s = %v, want %v (seconds)", what, got, want)
		}
	}
	for _, cmd := range []string{"sources", "sourcestats"} {
		var src []map[string]any
		get(cmd, &src)
		if len(src) != 2 || src[0]["name"] != "ntp1.example.net" || src[0]["reach"] != float64(0o377) || src[0]["stratum"] != float64(2) {
			t.Fatalf("%s: %v", cmd, src)
		}
		near(cmd+" last_rx", src[0]["last_rx"], 23)
		near(cmd+" adjusted_offset", src[0]["adjusted_offset"], -923e-6)
		near(cmd+" error_bound", src[0]["error_bound"], 43e-3)
		near(cmd+" span", src[0]["span"], 46*60)
		near(cmd+" std_dev", src[1]["std_dev"], 4)
		near(cmd+" freq_skew (ppm, not a duration)", src[1]["freq_skew"], 2000)
	}
	var tr map[string]any
	get("tracking", &tr)
	near("system_time", tr["system_time"], -6523e-9)
	near("rms_offset", tr["rms_offset"], 35822e-9)
	near("root_delay", tr["root_delay"], 0.013639022)
	near("frequency (ppm)", tr["frequency"], -3.225)
	if tr["ref_time"] == nil || tr["stratum"] == nil {
		t.Errorf("tracking: %v", tr)
	}
	var cl []map[string]any
	get("clients", &cl)
	if len(cl) != 1 || cl[0]["addr"] != "192.168.1.20" || cl[0]["ntp"] != float64(1234) {
		t.Fatalf("clients: %v", cl)
	}
	near("clients last_ago", cl[0]["last_ago"], 23)
}

func TestStatusFindsSocketFromConfig(t *testing.T) {
	sock := startStatusServer(t)
	dir := t.TempDir()
	conf := writeFile(t, dir, "ntpbox.conf", "allow\nbindcmdaddress "+sock+"\n")
	out, errOut, code := runStatusT(t, "tracking", "-f", conf)
	if code != 0 || !strings.HasPrefix(out, "Reference ID    : C0000201 (ntp1.example.net)\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	for _, tc := range []struct {
		name, conf string
		want       []string
	}{
		{"socket disabled", "bindcmdaddress /\n", []string{"bindcmdaddress / disables the control socket", "-s SOCKET"}},
		{"bad config", "bindcmdaddress nowhere\n", []string{"bad.conf:1: bindcmdaddress"}},
	} {
		f := writeFile(t, dir, "bad.conf", tc.conf)
		_, errOut, code := runStatusT(t, "sources", "-f", f)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", tc.name, errOut, w)
			}
		}
	}

	// A named config file must exist; the default one may be missing.
	missing := filepath.Join(dir, "missing.conf")
	if _, errOut, code := runStatusT(t, "sources", "-f", missing); code != 1 || !strings.Contains(errOut, missing) {
		t.Errorf("missing -f file: exit %d, %s", code, errOut)
	}
	if path, err := socketFor(missing, false, ""); err != nil || path != control.DefaultSocketPath {
		t.Errorf("missing default config: %q, %v; want %s", path, err, control.DefaultSocketPath)
	}
	if _, err := socketFor(conf, true, sock); err == nil {
		t.Error("-f and -s together accepted")
	}
}

func TestStatusErrors(t *testing.T) {
	nowhere := filepath.Join(t.TempDir(), "ntpbox.sock")
	_, errOut, code := runStatusT(t, "sources", "-s", nowhere)
	want := "ntpbox: cannot reach ntpbox at " + nowhere + ": is `ntpbox serve` running? (connect: no such file or directory)\n"
	if code != 1 || errOut != want {
		t.Errorf("no daemon: exit %d\n got %q\nwant %q", code, errOut, want)
	}
	for _, args := range [][]string{
		{"tracking", "-v"},    // no legend for tracking, as in chronyc
		{"clients", "extra"},  // no arguments
		{"sources", "-bogus"}, // unknown flag
	} {
		if _, _, code := runStatusT(t, args[0], args[1:]...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	if _, errOut, code := runStatusT(t, "sources", "-h"); code != 0 || !strings.Contains(errOut, "usage: ntpbox sources [-v] [--json] [-f FILE | -s SOCKET]") {
		t.Errorf("-h: exit %d, %s", code, errOut)
	}
}

// TestStatusBinary runs the built ntpbox, so the commands are wired in
// main.
func TestStatusBinary(t *testing.T) {
	sock := startStatusServer(t)
	for _, cmd := range []string{"sources", "sourcestats", "tracking", "clients"} {
		out, errOut, code := ntpbox(t, cmd, "-s", sock)
		if code != 0 || errOut != "" || out == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	out, _, code := ntpbox(t, "sources", "-v", "-s", sock)
	if code != 0 || !strings.HasPrefix(out, "\n  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.\n") {
		t.Errorf("sources -v: exit %d\n%s", code, out)
	}
	if out, _, _ := ntpbox(t, "help"); !strings.Contains(out, "sourcestats") {
		t.Errorf("usage does not list the status commands:\n%s", out)
	}
}
