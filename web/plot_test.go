package web

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		name           string
		lo, hi         float64
		ticks          []float64
		wantLo, wantHi float64
	}{
		{"offsets", -23, 41, []float64{-40, -20, 0, 20, 40, 60}, -40, 60},
		{"root distance from 0", 0, 7.3, []float64{0, 2, 4, 6, 8}, 0, 8},
		{"small", 0.0012, 0.0049, []float64{0.001, 0.002, 0.003, 0.004, 0.005}, 0.001, 0.005},
		{"flat", 5, 5, []float64{4, 4.5, 5, 5.5, 6}, 4, 6},
		{"flat zero", 0, 0, []float64{-1, -0.5, 0, 0.5, 1}, -1, 1},
		{"negative ppm", -12.3, -11.4, []float64{-12.5, -12, -11.5, -11}, -12.5, -11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticks, lo, hi := niceTicks(tc.lo, tc.hi)
			round := func(v float64) float64 { return float64(int64(v*1e9+0.5*sign(v))) / 1e9 }
			for i := range ticks {
				ticks[i] = round(ticks[i])
			}
			if !slices.Equal(ticks, tc.ticks) || round(lo) != tc.wantLo || round(hi) != tc.wantHi {
				t.Errorf("niceTicks(%v, %v) = %v, %v, %v; want %v, %v, %v", tc.lo, tc.hi, ticks, lo, hi, tc.ticks, tc.wantLo, tc.wantHi)
			}
		})
	}
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func TestDurationUnit(t *testing.T) {
	for _, tc := range []struct {
		max  float64
		unit string
	}{{0, "ns"}, {3e-7, "ns"}, {2e-6, "µs"}, {0.0009, "µs"}, {0.012, "ms"}, {1.5, "s"}} {
		if u, _ := durationUnit(tc.max); u != tc.unit {
			t.Errorf("durationUnit(%v) = %s, want %s", tc.max, u, tc.unit)
		}
	}
}

func TestTickDecimals(t *testing.T) {
	for _, tc := range []struct {
		ticks []float64
		want  int
	}{{[]float64{0, 20}, 0}, {[]float64{0, 0.5}, 1}, {[]float64{0, 0.2}, 1}, {[]float64{0.001, 0.002}, 3}, {[]float64{1}, 0}} {
		if got := tickDecimals(tc.ticks); got != tc.want {
			t.Errorf("tickDecimals(%v) = %d, want %d", tc.ticks, got, tc.want)
		}
	}
}

// TestHistoryPlotsWindow: points older than 24 h before now are left out,
// and the time axis ends at now.
func TestHistoryPlotsWindow(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h := []HistoryPoint{
		{Time: now.Add(-30 * time.Hour), Offset: time.Second, Synchronised: true}, // out of the window
		{Time: now.Add(-2 * time.Hour), Offset: 3 * time.Microsecond, Synchronised: true},
		{Time: now.Add(-time.Hour), Offset: -5 * time.Microsecond, Synchronised: true},
	}
	p := historyPlots(h, now)
	if len(p) != 3 {
		t.Fatalf("%d plots", len(p))
	}
	svg := string(p[0].SVG)
	if p[0].Unit != "µs" {
		t.Errorf("offset unit %s, want µs (the 1 s point is out of the window)", p[0].Unit)
	}
	if strings.Count(svg, "<polyline") != 1 {
		t.Errorf("offset plot: want one line:\n%s", svg)
	}
	// 12:00 is the right end of the axis, x = marginL+innerW, its label
	// ending there so as to stay in the picture.
	if !strings.Contains(svg, `x="410" text-anchor="end">12:00<`) {
		t.Errorf("12:00 not at the right end:\n%s", svg)
	}
}
