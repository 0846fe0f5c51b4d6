package upstream

import (
	"math"
	"slices"
)

// This file is the per-source sample statistics (chrony's sourcestats):
// a weighted linear regression of offset against time over the recent
// samples, with a runs test that shortens the regression window once a
// straight line no longer fits. As in chrony, the runs test also looks
// at up to as many older samples as the window holds: a line fitted to
// the recent samples and extended back over the older ones exposes a
// frequency that wandered.

const (
	maxSamples    = 64   // in the regression window (chrony's limit; `maxsamples` may lower it)
	runsRatio     = 2    // the runs test covers up to this many times the window
	minKeep       = 6    // the runs test never prunes below this by default (chrony's minsamples)
	minRegress    = 3    // samples needed for a frequency estimate
	maxClockError = 1e-6 // s/s, chrony's default maxclockerror: our oscillator's stability between updates
	runsZCritical = -1.28
	// innovationDecay and innovationLimit: see source.innovation.
	innovationDecay = 0.75
	innovationLimit = 3
	jumpZ           = 5
	maxJumpRate     = 500e-6 // s/s: Linux's largest frequency correction
	unknownJumpSkew = 100    // ppm: the skew of a source whose frequency jumped by an unknown amount
	minStdDevFloor  = 1e-7   // s: floor for weights, below any real network jitter
)

// sample is one measurement, on the engine's cooked time axis.
type sample struct {
	t         float64 // cooked seconds since the engine epoch, midway between T1 and T4
	offset    float64 // source minus cooked clock (s), adjusted for later corrections
	measured  float64 // offset as measured
	delay     float64 // round-trip delay (s)
	disp      float64 // peer dispersion (s)
	rootDelay float64 // the source's root delay from the packet (s)
	rootDisp  float64 // the source's root dispersion from the packet (s)
}

func (s *sample) distance() float64 { return s.delay/2 + s.disp }

// reframe re-expresses s after the cooked clock moved by dOffset seconds
// and its rate by dFreq ppm at cooked time now.
func (s *sample) reframe(now, dOffset, dFreq float64) {
	d := dOffset + dFreq*1e-6*(s.t-now)
	s.offset -= d
	s.t += d
}

// statsParams are a source's statistics settings: chrony's minsamples,
// maxsamples, maxdelaydevratio, mindelay and maxclockerror.
type statsParams struct {
	minKeep, maxSamples int
	devRatio            float64 // 0: test C off
	fixedMinDelay       float64 // s, `mindelay`; 0: the smallest delay in the window
	clockError          float64 // s/s
	// asymmetry is `asymmetry`: within ±maxAsymmetry a fixed ratio (0:
	// no correction), beyond it (chrony's default, 1) estimated.
	asymmetry float64
}

func defaultStatsParams() statsParams {
	return statsParams{minKeep: minKeep, maxSamples: maxSamples, devRatio: 10, clockError: maxClockError, asymmetry: 1}
}

// sourceStats holds a source's samples and the regression through them.
type sourceStats struct {
	statsParams
	samples []sample // oldest first; the first extra only feed the runs test
	extra   int

	ok       bool    // at least minRegress samples: offset, slope and skew are valid
	tMean    float64 // weighted mean time
	offMean  float64 // weighted mean offset (the regression line at tMean)
	slope    float64 // s/s: d(offset)/dt, the source's frequency relative to our cooked clock
	sumW     float64 // sum of normalised weights
	stt      float64 // weighted sum of squared time deviations
	sd       float64 // standard deviation of a unit-weight sample (s)
	skew     float64 // standard error of slope (s/s)
	runs     int
	minDelay float64
	// asym is the asymmetry the offsets are corrected with, and asymRun
	// chrony's count of consecutive estimates of one sign.
	asym    float64
	asymRun int

	weights []float64 // scratch
	corr    []sample  // scratch: the samples with offsets corrected for asymmetry
}

func (st *sourceStats) reset() {
	*st = sourceStats{statsParams: st.statsParams, samples: st.samples[:0], weights: st.weights, corr: st.corr}
}

// params returns the settings, chrony's defaults where unset (a
// sourceStats made without newSource).
func (st *sourceStats) params() statsParams {
	if st.maxSamples == 0 {
		st.statsParams = defaultStatsParams()
	}
	return st.statsParams
}

// window returns the samples of the regression window.
func (st *sourceStats) window() []sample { return st.samples[st.extra:] }

func (st *sourceStats) newest() *sample {
	if len(st.samples) == 0 {
		return nil
	}
	return &st.samples[len(st.samples)-1]
}

// add appends s and re-runs the regression.
func (st *sourceStats) add(s sample) {
	st.samples = append(st.samples, s)
	if len(st.samples)-st.extra > st.params().maxSamples {
		st.extra++
	}
	st.trim()
	st.regress()
}

// shorten halves the regression window (not below minKeep), keeping the
// older half for the runs test.
func (st *sourceStats) shorten() {
	n := len(st.samples) - st.extra
	keep := max(n/2, st.params().minKeep)
	if keep >= n {
		return
	}
	st.extra += n - keep
	st.trim()
	st.regress()
}

// trim keeps at most (runsRatio-1) times the window as extra samples.
func (st *sourceStats) trim() {
	n := len(st.samples) - st.extra
	if drop := st.extra - (runsRatio-1)*n; drop > 0 {
		st.samples = append(st.samples[:0], st.samples[drop:]...)
		st.extra -= drop
	}
}

// adjust re-expresses the samples after the cooked clock moved by
// dOffset seconds and its rate by dFreq ppm at cooked time now.
func (st *sourceStats) adjust(now, dOffset, dFreq float64) {
	for i := range st.samples {
		st.samples[i].reframe(now, dOffset, dFreq)
	}
	if len(st.samples) > 0 {
		st.regress()
	}
}

// predict returns the regression's offset at cooked time t and its
// standard error. Without a regression it returns the newest sample.
func (st *sourceStats) predict(t float64) (offset, sd float64) {
	if !st.ok {
		if s := st.newest(); s != nil {
			return s.offset, s.distance()
		}
		return 0, math.Inf(1)
	}
	dt := t - st.tMean
	v := st.sd * st.sd * (1/st.sumW + dt*dt/st.stt)
	return st.offMean + st.slope*dt, math.Sqrt(v)
}

// span returns the time from the oldest to the newest sample.
func (st *sourceStats) span() float64 {
	w := st.window()
	if len(w) < 2 {
		return 0
	}
	return w[len(w)-1].t - w[0].t
}

// delayOK is chrony's test C (maxdelaydevratio): a sample whose delay
// exceeds the minimum by much more than the offsets vary is mostly
// queueing noise, unless its offset moved even more than the delay.
func (st *sourceStats) delayOK(s *sample) bool {
	p := st.params()
	if !st.ok || p.devRatio <= 0 {
		return true
	}
	age := s.t - st.newest().t
	maxDelta := st.sd*p.devRatio + age*(st.skew+p.clockError)
	delta := (s.delay - st.baseDelay()) / 2
	if delta <= maxDelta {
		return true
	}
	pred, _ := st.predict(s.t)
	return math.Abs(s.offset-pred)-delta > maxDelta
}

// baseDelay is the delay test's minimum: `mindelay` if set, else the
// smallest in the window.
func (st *sourceStats) baseDelay() float64 {
	if p := st.params(); p.fixedMinDelay > 0 {
		return p.fixedMinDelay
	}
	return st.minDelay
}

// delayRatioOK is chrony's test B (maxdelayratio): a delay more than
// ratio times the smallest one, allowing for the clock's drift since the
// newest sample, is too long. A ratio below 1 turns it off.
func (st *sourceStats) delayRatioOK(s *sample, ratio float64) bool {
	if ratio < 1 || !st.ok {
		return true
	}
	age := s.t - st.newest().t
	return s.delay <= st.baseDelay()*ratio+age*(st.skew+st.params().clockError)
}

// regress fits offset = offMean + slope·(t - tMean) by weighted least
// squares over the window, then drops the oldest samples from the window
// while the residuals, extended over up to as many older samples, show
// too few runs of one sign for a straight line (never below minKeep).
func (st *sourceStats) regress() {
	all := st.correctAsymmetry()
	win := all[st.extra:]
	n := len(win)
	st.ok = false
	if n == 0 {
		return
	}
	st.minDelay = math.Inf(1)
	minDist := math.Inf(1)
	for i := range win {
		st.minDelay = min(st.minDelay, win[i].delay)
		minDist = min(minDist, win[i].distance())
	}
	if n < minRegress {
		st.runs = n
		return
	}
	// Samples with a longer path than the best one are less trustworthy:
	// chrony's weighting (SST_DoNewRegression). The scale is the spread
	// of the distances (median less minimum, over SD_TO_DIST_RATIO),
	// kept between the clock's resolution and the minimum distance, so
	// that a few samples with very different delays (a virtual machine's
	// first seconds) are not weighted a million to one.
	w := st.weights[:0]
	for i := range win {
		w = append(w, win[i].distance())
	}
	scale := (median(w) - minDist) / sdToDistRatio
	scale = min(max(scale, minStdDevFloor), max(minDist, minStdDevFloor))
	for i := range win {
		x := 1.0
		if d := win[i].distance(); d > minDist+minStdDevFloor {
			x += (d - minDist - minStdDevFloor) / scale
		}
		w[i] = 1 / (x * x)
	}
	st.weights = w
	start := 0
	for {
		st.fit(win[start:], w[start:])
		// The runs test covers runsRatio times the fitted samples,
		// reaching back into the extra ones.
		from := max(st.extra+start-(runsRatio-1)*(n-start), 0)
		ok := st.runsOK(all[from:])
		if ok || n-start <= st.params().minKeep {
			break
		}
		start++
	}
	st.runs = st.countRuns(win[start:])
	st.extra += start
	st.trim()
	st.ok = true
}

// fit does the weighted regression over ss with weights w.
func (st *sourceStats) fit(ss []sample, w []float64) {
	n := float64(len(ss))
	var sw, swt, swy float64
	for i := range ss {
		sw += w[i]
		swt += w[i] * ss[i].t
		swy += w[i] * ss[i].offset
	}
	tm, ym := swt/sw, swy/sw
	norm := n / sw // normalise weights to a mean of 1
	var stt, sty float64
	for i := range ss {
		dt := ss[i].t - tm
		stt += w[i] * norm * dt * dt
		sty += w[i] * norm * dt * (ss[i].offset - ym)
	}
	slope := 0.0
	if stt > 0 {
		slope = sty / stt
	}
	var ssr float64
	for i := range ss {
		r := ss[i].offset - ym - slope*(ss[i].t-tm)
		ssr += w[i] * norm * r * r
	}
	st.tMean, st.offMean, st.slope = tm, ym, slope
	st.sumW, st.stt = n, stt
	st.sd = math.Sqrt(ssr / max(n-2, 1))
	if stt > 0 {
		// chrony's skew: the slope's standard error times Student's t
		// at 99.95 % for n-2 degrees of freedom. With three samples
		// that is 637 times the standard error, so the frequency of an
		// iburst's few seconds does not steer the clock (it is above
		// maxupdateskew) nor narrow the bound.
		st.skew = st.sd / math.Sqrt(stt) * tCoef(len(ss)-2)
	} else {
		st.skew = math.Inf(1)
	}
}

// sdToDistRatio is chrony's SD_TO_DIST_RATIO: how a spread of distances
// translates to a standard deviation for the weights.
const sdToDistRatio = 0.7

// tCoef is Student's t at the 99.95 % quantile for dof degrees of
// freedom (chrony's RGR_GetTCoef).
func tCoef(dof int) float64 {
	coefs := [...]float64{636.6, 31.6, 12.92, 8.61, 6.869,
		5.959, 5.408, 5.041, 4.781, 4.587,
		4.437, 4.318, 4.221, 4.140, 4.073,
		4.015, 3.965, 3.922, 3.883, 3.850,
		3.819, 3.792, 3.768, 3.745, 3.725,
		3.707, 3.690, 3.674, 3.659, 3.646,
		3.633, 3.622, 3.611, 3.601, 3.591,
		3.582, 3.574, 3.566, 3.558, 3.551}
	switch {
	case dof < 1:
		return coefs[0]
	case dof <= len(coefs):
		return coefs[dof-1]
	}
	return 3.5
}

// median returns the median of v, reordering a copy-free scratch: it
// sorts v in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// runsOK counts the runs of residuals of one sign and checks them
// against the Wald–Wolfowitz runs test at 5 %: a line through data that
// curves leaves long runs.
func (st *sourceStats) runsOK(ss []sample) bool {
	runs, pos, neg := st.signRuns(ss)
	if pos == 0 || neg == 0 {
		return len(ss) < 3
	}
	n := float64(pos + neg)
	np, nn := float64(pos), float64(neg)
	mean := 2*np*nn/n + 1
	v := 2 * np * nn * (2*np*nn - n) / (n * n * (n - 1))
	if v <= 0 {
		return true
	}
	return (float64(runs)-mean)/math.Sqrt(v) >= runsZCritical
}

// countRuns returns the number of runs of residuals of one sign.
func (st *sourceStats) countRuns(ss []sample) int {
	runs, _, _ := st.signRuns(ss)
	return runs
}

func (st *sourceStats) signRuns(ss []sample) (runs, pos, neg int) {
	prev := 0
	for i := range ss {
		r := ss[i].offset - st.offMean - st.slope*(ss[i].t-st.tMean)
		sign := 1
		if r < 0 {
			sign = -1
			neg++
		} else {
			pos++
		}
		if sign != prev {
			runs++
			prev = sign
		}
	}
	return runs, pos, neg
}

// Asymmetry of the network jitter (chrony's correct_asymmetry and
// estimate_asymmetry): when the delay varies more in one direction, a
// longer delay comes with a shifted offset. The offset's slope against
// the delay, from a regression of offset on time and delay, is that
// ratio; once it is large (at least minAsymmetry) and of one sign for
// minAsymmetryRun regressions in a row, or when `asymmetry` fixes it,
// each offset is corrected to what it would be at the minimum delay.
const (
	maxAsymmetry    = 0.5  // all of the jitter in one direction
	minAsymmetry    = 0.45 // an estimate that can turn the correction on
	minAsymmetryRun = 10
	maxAsymmetryRun = 1000
)

// correctAsymmetry returns the samples (extra ones first) with their
// offsets corrected for the asymmetry, or the samples themselves when
// there is none to correct.
func (st *sourceStats) correctAsymmetry() []sample {
	fixed := st.params().asymmetry
	if fixed == 0 || len(st.samples) == 0 {
		st.asym = 0
		return st.samples
	}
	minDelay := math.Inf(1)
	for i := range st.samples {
		minDelay = min(minDelay, st.samples[i].delay)
	}
	if math.Abs(fixed) <= maxAsymmetry {
		st.asym = fixed
	} else if !st.estimateAsymmetry(minDelay) {
		return st.samples
	}
	st.corr = append(st.corr[:0], st.samples...)
	for i := range st.corr {
		st.corr[i].offset -= st.asym * (st.corr[i].delay - minDelay)
	}
	return st.corr
}

// estimateAsymmetry updates st.asym from all the samples and reports
// whether the correction is on.
func (st *sourceStats) estimateAsymmetry(minDelay float64) bool {
	a, ok := asymmetrySlope(st.samples, minDelay)
	if !ok || a*float64(st.asymRun) < 0 {
		st.asym, st.asymRun = 0, 0
		return false
	}
	switch {
	case a <= -minAsymmetry && st.asymRun > -maxAsymmetryRun:
		st.asymRun--
	case a >= minAsymmetry && st.asymRun < maxAsymmetryRun:
		st.asymRun++
	}
	if st.asymRun < minAsymmetryRun && st.asymRun > -minAsymmetryRun {
		return false
	}
	st.asym = min(max(a, -maxAsymmetry), maxAsymmetry)
	return true
}

// asymmetrySlope fits offset = a + b·t + c·(delay - minDelay) by least
// squares and returns c (chrony's RGR_MultipleRegress), or false with
// fewer than 4 samples or no stable solution.
func asymmetrySlope(ss []sample, minDelay float64) (float64, bool) {
	n := len(ss)
	if n < 4 {
		return 0, false
	}
	t0 := ss[n-1].t
	var sx1, sx2, sx1x1, sx1x2, sx2x2, sx1y, sx2y, sy float64
	for i := range ss {
		x1, x2, y := ss[i].t-t0, ss[i].delay-minDelay, ss[i].offset
		sx1 += x1
		sx2 += x2
		sx1x1 += x1 * x1
		sx1x2 += x1 * x2
		sx2x2 += x2 * x2
		sx1y += x1 * y
		sx2y += x2 * y
		sy += y
	}
	fn := float64(n)
	u := fn*(sx1x2*sx1y-sx1x1*sx2y) + sx1*sx1*sx2y - sx1*sx2*sx1y + sy*(sx2*sx1x1-sx1*sx1x2)
	v1 := fn * (sx1x2*sx1x2 - sx1x1*sx2x2)
	v2 := sx1*sx1*sx2x2 + sx2*sx2*sx1x1
	v3 := -2 * sx1 * sx2 * sx1x2
	v := v1 + v2 + v3
	if math.Abs(v)*1e10 <= -v1+v2+math.Abs(v3) {
		return 0, false
	}
	return u / v, true
}
