package web

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The status page is one HTML document with its CSS inline and its plots
// drawn on the server as inline SVG: no JavaScript, no other request (the
// favicon is an empty data: URL), so that it works from a phone on a LAN
// with no Internet and costs the box one response.

//go:embed page.html
var pageHTML string

//go:embed page.css
var pageCSS string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"dur":      fmtDuration,
	"sdur":     fmtSignedDuration,
	"abs":      time.Duration.Abs,
	"ago":      fmtAgo,
	"ppm":      func(f float64) string { return fmt.Sprintf("%+.3f ppm", f) },
	"utc":      fmtUTC,
	"octal":    func(r uint8) string { return fmt.Sprintf("%03o", r) },
	"poll":     fmtPoll,
	"interval": fmtInterval,
	"srcname":  sourceName,
	"srcstate": sourceState,
	"srcmode":  sourceMode,
	"addr":     fmtAddr,
	"refid":    fmtRefID,
	"secs":     func(d time.Duration) string { return fmt.Sprintf("%.9f s", d.Seconds()) },
	"untilNow": fmtUntil,
	"isSynced": synced,
}).Parse(pageHTML))

// page is what the template sees: the Status, and what is derived from it.
type page struct {
	*Status
	CSS    template.CSS
	Synced bool
	Plots  []plot
}

// RenderPage writes the status page for s to w.
func RenderPage(w io.Writer, s *Status) error {
	if s == nil {
		return fmt.Errorf("render status page: no status")
	}
	p := page{
		Status: s,
		CSS:    template.CSS(pageCSS),
		Synced: synced(s.Tracking),
		Plots:  historyPlots(s.History, s.Now),
	}
	// Render to a buffer so that a failure half-way does not send half a
	// page with a 200.
	var b strings.Builder
	b.Grow(64 << 10)
	if err := pageTmpl.Execute(&b, p); err != nil {
		return fmt.Errorf("render status page: %w", err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// synced is whether the tracking report says the clock is synchronised.
func synced(t upstream.TrackingReport) bool {
	return t.Leap != "" && t.Leap != "Not synchronised" && t.Stratum > 0 && t.Stratum < 16
}

// sourceName is the name column: the name as configured and the address
// it resolved to, if different.
func sourceName(s upstream.SourceReport) string {
	addr := ""
	if s.Addr.IsValid() {
		addr = s.Addr.Addr().String()
	}
	switch {
	case s.Name != "" && addr != "" && s.Name != addr:
		return s.Name + " (" + addr + ")"
	case s.Name != "":
		return s.Name
	case addr != "":
		return addr
	}
	return "?"
}

// sourceMode and sourceState spell out chronyc's two symbol columns.
func sourceMode(m string) string {
	switch m {
	case "^":
		return "server"
	case "=":
		return "peer"
	case "#":
		return "local clock"
	}
	return m
}

func sourceState(st string) string {
	switch st {
	case "*":
		return "selected"
	case "+":
		return "combined"
	case "-":
		return "not combined"
	case "?":
		return "unusable"
	case "x":
		return "falseticker"
	case "~":
		return "too variable"
	}
	return st
}

func fmtAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "?"
	}
	return a.String()
}

// fmtRefID is the reference ID as chronyc prints it, in hex.
func fmtRefID(id uint32) string { return fmt.Sprintf("%08X", id) }

// fmtDuration prints d with 3 significant digits in ns, µs, ms or s.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "−" + fmtDuration(-d)
	}
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + " µs"
	case d < time.Second:
		return sig3(float64(d)/1e6) + " ms"
	}
	return sig3(d.Seconds()) + " s"
}

// fmtSignedDuration is fmtDuration with a + for positive values.
func fmtSignedDuration(d time.Duration) string {
	if d > 0 {
		return "+" + fmtDuration(d)
	}
	return fmtDuration(d)
}

// sig3 prints v (1 ≤ v < 1000 mostly) with three significant digits.
func sig3(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtAgo is chronyc's LastRx and Last: seconds, then m, h, d, y; "-" for
// never (negative).
func fmtAgo(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	s := int64(d / time.Second)
	switch {
	case s < 1200:
		return fmt.Sprintf("%d s", s)
	case s < 36000:
		return fmt.Sprintf("%d min", s/60)
	case s < 345600:
		return fmt.Sprintf("%d h", s/3600)
	case s < 31536000*2:
		return fmt.Sprintf("%d d", s/86400)
	}
	return fmt.Sprintf("%d y", s/31536000)
}

// fmtPoll is a log2 interval with its value in seconds.
func fmtPoll(p int) string {
	if p < -30 || p > 30 {
		return fmt.Sprint(p)
	}
	if p < 0 {
		return fmt.Sprintf("%d (1/%d s)", p, 1<<-p)
	}
	return fmt.Sprintf("%d (%d s)", p, 1<<p)
}

// fmtInterval is a client's average request interval, log2; 127 is unknown.
func fmtInterval(i int) string {
	if i == 127 {
		return "–"
	}
	return fmtPoll(i)
}

func fmtUTC(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtUntil is how long before now t was, for "last update".
func fmtUntil(t, now time.Time) string {
	if t.IsZero() || now.IsZero() {
		return ""
	}
	return fmtAgo(now.Sub(t)) + " ago"
}
