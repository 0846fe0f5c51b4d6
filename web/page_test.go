package web

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

const hostile = `<script>alert("x")</script>`

// fullStatus is a Status with every part filled: a day of history at one
// point a minute, nclients clients, and hostile text wherever the
// services pass on text from elsewhere.
func fullStatus(npoints, nclients int) *Status {
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	s := &Status{
		Now:      now,
		Hostname: "ntpbox" + hostile + ".local",
		Version:  "v0.9.0 (abc123)",
		Tracking: upstream.TrackingReport{
			RefID: 0xC6120001, RefName: "ntp1.lan" + hostile, Stratum: 3,
			RefTime: now.Add(-37 * time.Second), SystemTime: -1234 * time.Nanosecond,
			LastOffset: 2100 * time.Nanosecond, RMSOffset: 5 * time.Microsecond,
			Frequency: -12.345, ResidualFreq: 0.002, Skew: 0.05,
			RootDelay: 12 * time.Millisecond, RootDispersion: 800 * time.Microsecond,
			UpdateInterval: 64 * time.Second, Leap: "Normal", ClockControl: true,
		},
		ServerStats: control.ServerStats{NTPHits: 12345, NTPDrops: 7, CmdHits: 3},
		Errors:      []string{"dhcp leases: " + hostile},
	}
	s.Sources = []upstream.SourceReport{
		{Name: "ntp1.lan" + hostile, Addr: netip.MustParseAddrPort("198.18.0.1:123"), Mode: "^", State: "*",
			Stratum: 2, Poll: 6, Reach: 0377, LastRx: 23 * time.Second,
			AdjustedOffset: -923 * time.Microsecond, MeasuredOffset: -924 * time.Microsecond, ErrorBound: 43 * time.Millisecond},
		{Name: "2001:2::5", Addr: netip.MustParseAddrPort("[2001:2::5]:123"), Mode: "^", State: "?",
			Stratum: 0, Poll: 10, Reach: 0, LastRx: -1},
	}
	for i := range nclients {
		s.Clients = append(s.Clients, control.ClientReport{
			Addr: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), NTP: uint64(i * 10),
			Interval: 6, LastAgo: time.Duration(i) * time.Second,
		})
	}
	for i := range npoints {
		t := now.Add(-24*time.Hour + time.Duration(i)*24*time.Hour/time.Duration(max(npoints, 1)))
		s.History = append(s.History, HistoryPoint{
			Time: t, Offset: time.Duration((i%50)-25) * time.Microsecond,
			Frequency: -12 + float64(i%7)/10, RootDistance: time.Duration(5000+i) * time.Microsecond,
			Synchronised: i%300 != 299,
		})
	}
	s.Leases = []Lease{{Addr: "198.18.0.50", MAC: "52:54:00:12:34:56", Hostname: "phone" + hostile, Expires: now.Add(time.Hour), State: "bound"}}
	s.Records = []Record{{Source: "dns zone", Text: "_ntp._udp.lan. 3600 IN SRV 0 0 123 ntpbox.lan."}}
	for i := range 200 {
		s.Log = append(s.Log, fmt.Sprintf("17:%02d:00 ntp: line %d", i%60, i))
	}
	s.Log[100] = "ntp: name from the network " + hostile
	s.Config = []ConfigLine{
		{Text: "server ntp1.lan iburst", Origin: "/etc/ntpbox.conf:1"},
		{Text: "allow connected", Origin: "default"},
		{Text: "# " + hostile, Origin: "kernel command line"},
	}
	return s
}

func render(t testing.TB, s *Status) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := RenderPage(&b, s); err != nil {
		t.Fatalf("RenderPage: %v", err)
	}
	return b.Bytes()
}

// find returns the nodes under n for which match is true.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if match(c) {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	ns := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "id") == id })
	if len(ns) != 1 {
		return nil
	}
	return ns[0]
}

func byTag(n *html.Node, tag string) []*html.Node {
	return find(n, func(c *html.Node) bool { return c.Type == html.ElementNode && c.Data == tag })
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func parse(t testing.TB, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func TestRenderPageFull(t *testing.T) {
	s := fullStatus(1440, 300)
	page := render(t, s)
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n")) {
		t.Errorf("page does not start with the HTML5 doctype: %q", page[:min(len(page), 40)])
	}
	doc := parse(t, page)

	// Hostile text is escaped: no script element, and the text itself
	// shows as text.
	if n := len(byTag(doc, "script")); n != 0 {
		t.Errorf("%d <script> elements in the page; text was not escaped", n)
	}
	if !strings.Contains(text(doc), hostile) {
		t.Errorf("the hostile strings are not shown as text")
	}
	// Nothing to load: no external resource, no form.
	for _, tag := range []string{"form", "input", "img", "iframe", "object", "embed"} {
		if n := len(byTag(doc, tag)); n != 0 {
			t.Errorf("%d <%s> elements", n, tag)
		}
	}
	for _, l := range byTag(doc, "link") {
		if h := attr(l, "href"); !strings.HasPrefix(h, "data:") {
			t.Errorf("<link href=%q> would be fetched", h)
		}
	}
	if len(find(doc, func(n *html.Node) bool {
		return n.Type == html.ElementNode && n.Data == "meta" && attr(n, "name") == "viewport"
	})) != 1 {
		t.Errorf("no viewport meta")
	}

	src := byID(doc, "sources")
	if src == nil || src.Data != "table" {
		t.Fatalf("no <table id=sources>")
	}
	rows := byTag(src, "tr")
	if len(rows) != 1+len(s.Sources) {
		t.Errorf("sources table: %d rows, want header + %d", len(rows), len(s.Sources))
	}
	first := text(rows[1])
	for _, want := range []string{"server", "selected", "ntp1.lan" + hostile, "198.18.0.1", "377", "23 s", "−923 µs", "43.0 ms"} {
		if !strings.Contains(first, want) {
			t.Errorf("sources row %q lacks %q", first, want)
		}
	}
	if cl := byID(doc, "clients"); cl == nil || len(byTag(cl, "tr")) != 1+300 {
		t.Errorf("clients table missing or without 300 rows")
	}
	for _, id := range []string{"leases", "records", "config", "log", "errors", "tracking", "sync-state"} {
		if byID(doc, id) == nil {
			t.Errorf("no element with id %q", id)
		}
	}
	if got := text(byID(doc, "sync-state")); got != "synchronised" {
		t.Errorf("sync state %q, want synchronised", got)
	}
	if got := strings.Count(text(byID(doc, "log")), "\n"); got != 200 {
		t.Errorf("log: %d lines, want 200", got)
	}
	if cfg := text(byID(doc, "config")); !strings.Contains(cfg, "/etc/ntpbox.conf:1") || !strings.Contains(cfg, "kernel command line") {
		t.Errorf("config without origins: %q", cfg)
	}
	for _, id := range []string{"plot-offset", "plot-frequency", "plot-rootdistance"} {
		svg := byID(doc, id)
		if svg == nil || svg.Data != "svg" {
			t.Errorf("no <svg id=%s>", id)
			continue
		}
		lines := byTag(svg, "polyline")
		if len(lines) == 0 {
			t.Errorf("%s: no data line", id)
		}
		// 1440 points, 4 unsynchronised: 5 runs.
		if len(lines) != 5 {
			t.Errorf("%s: %d polylines, want 5 (one per synchronised run)", id, len(lines))
		}
		if n := len(find(svg, func(n *html.Node) bool { return attr(n, "class") == "unsync" })); n != 4 {
			t.Errorf("%s: %d unsynchronised spans, want 4", id, n)
		}
		labels := text(svg)
		if !strings.Contains(labels, "UTC") || !strings.Contains(labels, "18:00") {
			t.Errorf("%s: tick labels %q lack the time axis", id, labels)
		}
		if strings.Contains(labels, "no data") {
			t.Errorf("%s says no data", id)
		}
	}
	if u := text(byID(doc, "plot-offset")); !strings.Contains(u, "µs") {
		t.Errorf("offset plot not in µs: %q", u)
	}
	if u := text(byID(doc, "plot-frequency")); !strings.Contains(u, "ppm") {
		t.Errorf("frequency plot not in ppm: %q", u)
	}
	if u := text(byID(doc, "plot-rootdistance")); !strings.Contains(u, "ms") {
		t.Errorf("root distance plot not in ms: %q", u)
	}
}

func TestRenderPageEmpty(t *testing.T) {
	doc := parse(t, render(t, &Status{}))
	for _, id := range []string{"plot-offset", "plot-frequency", "plot-rootdistance"} {
		svg := byID(doc, id)
		if svg == nil {
			t.Fatalf("no %s", id)
		}
		if !strings.Contains(text(svg), "no data yet") {
			t.Errorf("%s: empty history without 'no data yet'", id)
		}
		if len(byTag(svg, "polyline")) != 0 {
			t.Errorf("%s: a data line without data", id)
		}
	}
	if byID(doc, "sources") == nil {
		t.Errorf("no sources table without sources")
	}
	if got := text(byID(doc, "sync-state")); got != "unsynchronised" {
		t.Errorf("sync state %q, want unsynchronised", got)
	}
	if byID(doc, "errors") != nil {
		t.Errorf("an errors box without errors")
	}
}

func TestRenderPageNil(t *testing.T) {
	if err := RenderPage(io.Discard, nil); err == nil {
		t.Errorf("RenderPage(nil) did not fail")
	}
}

func BenchmarkRenderPage(b *testing.B) {
	s := fullStatus(4096, 500)
	b.ReportAllocs()
	for b.Loop() {
		if err := RenderPage(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

// wellFormed checks what html.Parse would forgive: every element is
// closed, in order (void elements aside, and SVG's self-closing ones),
// and no id is used twice.
func wellFormed(page []byte) error {
	void := map[string]bool{"meta": true, "link": true, "br": true, "hr": true, "img": true, "input": true, "wbr": true}
	z := html.NewTokenizer(bytes.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return z.Err()
			}
			if len(stack) != 0 {
				return fmt.Errorf("unclosed at the end: %v", stack)
			}
			return nil
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				if a.Key == "id" {
					if ids[a.Val] {
						return fmt.Errorf("id %q twice", a.Val)
					}
					ids[a.Val] = true
				}
			}
			if tt == html.StartTagToken && !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			tok := z.Token()
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				return fmt.Errorf("</%s> closes %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func TestRenderPageWellFormed(t *testing.T) {
	for name, s := range map[string]*Status{"full": fullStatus(1440, 300), "empty": {}} {
		if err := wellFormed(render(t, s)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The check itself catches misnesting.
	if err := wellFormed([]byte("<div><p></div></p>")); err == nil {
		t.Errorf("wellFormed accepted misnested tags")
	}
}
