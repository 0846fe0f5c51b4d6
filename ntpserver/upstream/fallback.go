package upstream

import (
	"math"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/discipline"
)

// Fallback drifts (`fallbackdrift MIN MAX`, chrony's reference.c): while
// synchronised, the engine keeps moving averages of the clock's
// frequency over 2^MIN, 2^(MIN+1), ... 2^MAX s. When no update has come
// for 2^i s, the frequency is set to the average over 2^i s, the longest
// one that has seen that much time, and the box stops calling itself
// synchronised. The clock then drifts at its typical frequency, not at
// whatever the last update left, which may have followed a passing
// temperature swing.

type fbDrift struct {
	freq float64 // ppm
	secs float64 // s of history averaged so far
}

// fbUpdate feeds the frequency after an update, interval s after the
// previous one (chrony's update_fb_drifts), and schedules the first
// fallback.
func (e *Engine) fbUpdate(now, interval, prevInterval float64) {
	fd := e.cfg.Tuning.FallbackDrift
	if fd == nil {
		return
	}
	if e.fb == nil {
		e.fb = make([]fbDrift, fd.Max-fd.Min+1)
	}
	e.fbNext = 0
	e.fbAt = math.Inf(1)
	if interval >= 1 && (prevInterval <= 0 || interval <= 4*prevInterval) {
		freq := e.servo.Frequency()
		for i := range e.fb {
			d := &e.fb[i]
			secs := math.Ldexp(1, i+fd.Min)
			if d.secs < secs {
				// An average over the first 2·secs, then an exponential
				// moving average with time constant secs.
				d.freq = (d.freq*d.secs + interval*0.5*freq) / (interval*0.5 + d.secs)
				d.secs += interval * 0.5
			} else {
				d.freq += (1 - math.Exp(-interval/secs)) * (freq - d.freq)
			}
		}
	}
	e.fbSchedule(now)
}

// fbSchedule picks the next fallback drift to switch to, at cooked time
// now (chrony's schedule_fb_drift): an average already due is applied
// at once, the next one is due 2^i s after the last update.
func (e *Engine) fbSchedule(now float64) {
	fd := e.cfg.Tuning.FallbackDrift
	if fd == nil || e.fb == nil {
		return
	}
	unsynced := now - e.ref.at
	c, i := 0, fd.Min
	var secs float64
	for ; i <= fd.Max; i++ {
		secs = math.Ldexp(1, i)
		if e.fb[i-fd.Min].secs < secs {
			continue
		}
		if unsynced < secs && i > e.fbNext {
			break
		}
		c = i
	}
	if c > e.fbNext {
		e.fbApply(now, c)
		e.fbNext = c
	}
	e.fbAt = math.Inf(1)
	if i <= fd.Max {
		e.fbNext = i
		e.fbAt = e.ref.at + secs
	}
}

// fbCheck switches to the scheduled fallback drift when it is due.
func (e *Engine) fbCheck(raw time.Time) {
	if e.fbAt == math.Inf(1) || e.fb == nil || e.err != nil {
		return
	}
	now := e.cooked(raw)
	if now < e.fbAt {
		return
	}
	e.fbAt = math.Inf(1)
	e.fbApply(now, e.fbNext)
	e.unselect(raw, now, "fallback drift")
	// chrony schedules the next, longer average from here.
	e.fbSchedule(now)
}

// fbApply sets the clock's frequency to fallback drift i.
func (e *Engine) fbApply(now float64, i int) {
	d := e.fb[i-e.cfg.Tuning.FallbackDrift.Min]
	df := e.servo.SetFrequency(d.freq)
	e.log.Info("fallback drift: frequency set to the average of the last 2^N s", "N", i,
		"freq_ppm", -d.freq, "change_ppm", -df)
	e.reframe(now, discipline.Action{DFreq: df})
}
