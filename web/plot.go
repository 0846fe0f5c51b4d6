package web

import (
	"html/template"
	"math"
	"strconv"
	"time"
)

// The three plots of the last 24 hours are drawn here as inline SVG, on
// the server, from Status.History. The SVG holds only numbers and fixed
// words, never text from the Status, so it is safe as template.HTML.

// plotWindow is how far back the plots go.
const plotWindow = 24 * time.Hour

// The SVG's coordinate system; it scales to the page's width.
const (
	plotW, plotH                       = 420, 210
	marginL, marginR, marginT, marginB = 50, 10, 24, 34
	innerW, innerH                     = plotW - marginL - marginR, plotH - marginT - marginB
)

// plot is one figure on the page.
type plot struct {
	ID    string // the svg element's id
	Title string
	Unit  string
	SVG   template.HTML
}

// series says how to draw one quantity of the history.
type series struct {
	id, title string
	value     func(HistoryPoint) float64 // in the base unit (s or ppm)
	duration  bool                       // seconds, scaled to ns/µs/ms/s
	zero      bool                       // the axis includes 0
}

var plotSeries = []series{
	{"plot-offset", "Offset", func(p HistoryPoint) float64 { return p.Offset.Seconds() }, true, false},
	{"plot-frequency", "Frequency", func(p HistoryPoint) float64 { return p.Frequency }, false, false},
	{"plot-rootdistance", "Root distance", func(p HistoryPoint) float64 { return p.RootDistance.Seconds() }, true, true},
}

// historyPlots draws the offset, frequency and root distance of the
// points of h within plotWindow before now (oldest first).
func historyPlots(h []HistoryPoint, now time.Time) []plot {
	if now.IsZero() && len(h) > 0 {
		now = h[len(h)-1].Time
	}
	start := now.Add(-plotWindow)
	first := 0
	for first < len(h) && h[first].Time.Before(start) {
		first++
	}
	h = h[first:]
	plots := make([]plot, 0, len(plotSeries))
	for _, s := range plotSeries {
		plots = append(plots, drawPlot(s, h, start, now))
	}
	return plots
}

// drawPlot draws one series of h on [start, end].
func drawPlot(s series, h []HistoryPoint, start, end time.Time) plot {
	vals := make([]float64, len(h))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, p := range h {
		v := s.value(p)
		vals[i] = v
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	unit, scale := "ppm", 1.0
	if s.duration {
		unit, scale = durationUnit(max(math.Abs(lo), math.Abs(hi)))
	}
	if len(h) == 0 || math.IsInf(lo, 1) {
		lo, hi = 0, 0
	}
	lo, hi = lo/scale, hi/scale
	if s.zero {
		lo, hi = min(lo, 0), max(hi, 0)
	}
	ticks, lo, hi := niceTicks(lo, hi)

	b := make([]byte, 0, 2048+len(h)*16)
	b = append(b, `<svg id="`...)
	b = append(b, s.id...)
	b = append(b, `" class="plot" viewBox="0 0 `...)
	b = strconv.AppendInt(b, plotW, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, plotH, 10)
	b = append(b, `" role="img" aria-label="`...)
	b = append(b, s.title...)
	b = append(b, " ("...)
	b = append(b, unit...)
	b = append(b, `) over the last 24 hours" xmlns="http://www.w3.org/2000/svg">`...)

	span := end.Sub(start).Seconds()
	xOf := func(t time.Time) float64 {
		return marginL + innerW*t.Sub(start).Seconds()/span
	}
	yOf := func(v float64) float64 {
		return marginT + innerH*(hi-v)/(hi-lo)
	}

	// Shade the times the clock was not synchronised: from such a point
	// to the next one.
	for i := 0; i < len(h); i++ {
		if h[i].Synchronised {
			continue
		}
		j := i
		for j < len(h) && !h[j].Synchronised {
			j++
		}
		x0, x1 := xOf(h[i].Time), float64(marginL+innerW)
		if j < len(h) {
			x1 = xOf(h[j].Time)
		}
		b = append(b, `<rect class="unsync" x="`...)
		b = appendCoord(b, x0)
		b = append(b, `" y="`...)
		b = strconv.AppendInt(b, marginT, 10)
		b = append(b, `" width="`...)
		b = appendCoord(b, max(x1-x0, 1))
		b = append(b, `" height="`...)
		b = strconv.AppendInt(b, innerH, 10)
		b = append(b, `"><title>not synchronised</title></rect>`...)
		i = j
	}

	// Horizontal grid and the value labels.
	dec := tickDecimals(ticks)
	for _, v := range ticks {
		y := yOf(v)
		b = append(b, `<line class="grid" x1="`...)
		b = strconv.AppendInt(b, marginL, 10)
		b = append(b, `" x2="`...)
		b = strconv.AppendInt(b, marginL+innerW, 10)
		b = append(b, `" y1="`...)
		b = appendCoord(b, y)
		b = append(b, `" y2="`...)
		b = appendCoord(b, y)
		b = append(b, `"/><text x="`...)
		b = strconv.AppendInt(b, marginL-4, 10)
		b = append(b, `" y="`...)
		b = appendCoord(b, y+4)
		b = append(b, `" text-anchor="end">`...)
		if v == 0 {
			v = 0 // no "-0"
		}
		b = strconv.AppendFloat(b, v, 'f', dec, 64)
		b = append(b, `</text>`...)
	}

	// Vertical grid every 3 hours of UTC, labelled HH:MM every 6.
	for t := start.UTC().Truncate(3 * time.Hour); !t.After(end); t = t.Add(3 * time.Hour) {
		if t.Before(start) {
			continue
		}
		x := xOf(t)
		b = append(b, `<line class="grid" y1="`...)
		b = strconv.AppendInt(b, marginT, 10)
		b = append(b, `" y2="`...)
		b = strconv.AppendInt(b, marginT+innerH, 10)
		b = append(b, `" x1="`...)
		b = appendCoord(b, x)
		b = append(b, `" x2="`...)
		b = appendCoord(b, x)
		b = append(b, `"/>`...)
		if t.Hour()%6 != 0 {
			continue
		}
		b = append(b, `<text y="`...)
		b = strconv.AppendInt(b, marginT+innerH+15, 10)
		b = append(b, `" x="`...)
		b = appendCoord(b, x)
		if x > plotW-marginR-16 { // the last label stays in the picture
			b = append(b, `" text-anchor="end">`...)
		} else {
			b = append(b, `" text-anchor="middle">`...)
		}
		b = t.AppendFormat(b, "15:04")
		b = append(b, `</text>`...)
	}

	// Axes, and the units.
	b = append(b, `<path class="axis" d="M`...)
	b = strconv.AppendInt(b, marginL, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, marginT, 10)
	b = append(b, `V`...)
	b = strconv.AppendInt(b, marginT+innerH, 10)
	b = append(b, `H`...)
	b = strconv.AppendInt(b, marginL+innerW, 10)
	b = append(b, `"/><text x="`...)
	b = strconv.AppendInt(b, marginL-4, 10)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, marginT-12, 10)
	b = append(b, `" text-anchor="end">`...)
	b = append(b, unit...)
	b = append(b, `</text><text x="`...)
	b = strconv.AppendInt(b, marginL+innerW, 10)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, plotH-2, 10)
	b = append(b, `" text-anchor="end">UTC</text>`...)

	// The data: one polyline per run of synchronised points.
	if len(h) == 0 {
		b = append(b, `<text class="nodata" x="`...)
		b = strconv.AppendInt(b, marginL+innerW/2, 10)
		b = append(b, `" y="`...)
		b = strconv.AppendInt(b, marginT+innerH/2, 10)
		b = append(b, `" text-anchor="middle">no data yet</text>`...)
	}
	open := false
	for i, p := range h {
		v := vals[i] / scale
		if !p.Synchronised || math.IsNaN(v) || math.IsInf(v, 0) {
			if open {
				b = append(b, `"/>`...)
				open = false
			}
			continue
		}
		if !open {
			b = append(b, `<polyline class="data" points="`...)
			open = true
		} else {
			b = append(b, ' ')
		}
		b = appendCoord(b, xOf(p.Time))
		b = append(b, ',')
		b = appendCoord(b, yOf(v))
	}
	if open {
		b = append(b, `"/>`...)
	}
	b = append(b, `</svg>`...)
	return plot{ID: s.id, Title: s.title, Unit: unit, SVG: template.HTML(b)}
}

// appendCoord appends v with one decimal.
func appendCoord(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, math.Round(v*10)/10, 'f', -1, 64)
}

// durationUnit is the unit to show seconds of magnitude m in, and its
// size in seconds.
func durationUnit(m float64) (string, float64) {
	switch {
	case m < 1e-6:
		return "ns", 1e-9
	case m < 1e-3:
		return "µs", 1e-6
	case m < 1:
		return "ms", 1e-3
	}
	return "s", 1
}

// niceTicks returns about five round values spanning [lo, hi], and the
// axis' new ends.
func niceTicks(lo, hi float64) ([]float64, float64, float64) {
	if hi-lo < 1e-12*max(math.Abs(lo), math.Abs(hi), 1) {
		d := max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	step := niceStep((hi - lo) / 4)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step/2 || i > 20 {
			break
		}
		ticks = append(ticks, v)
	}
	return ticks, lo, hi
}

// niceStep is the smallest 1, 2 or 5 × 10^k at least x.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tickDecimals is how many decimals tell the ticks apart.
func tickDecimals(ticks []float64) int {
	if len(ticks) < 2 {
		return 0
	}
	step := ticks[1] - ticks[0]
	if step >= 1 {
		return 0
	}
	return min(int(math.Ceil(-math.Log10(step)-1e-9)), 9)
}
