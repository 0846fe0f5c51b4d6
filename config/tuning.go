package config

import (
	"fmt"
	"math"
	"strconv"
)

// This file has chrony's source selection and system clock directives
// that fill Config.Tuning, and leapsecmode.

// maxFallbackDrift is the largest `fallbackdrift` interval, log2 seconds
// (2^30 s is 34 years). chrony has no limit; ntpbox keeps the engine's
// table of fallback drifts small.
const maxFallbackDrift = 30

// tuningNumber is a Tuning directive that takes one number.
type tuningNumber struct {
	name   string
	what   string // the argument, for a missing or extra one
	lo, hi float64
	isInt  bool
	field  func(*Tuning) any // *float64 or *int
}

// tuningNumbers lists the one-number Tuning directives in the order
// Render prints them.
var tuningNumbers = []tuningNumber{
	{"maxdistance", "a distance in seconds", 0, math.Inf(1), false, func(t *Tuning) any { return &t.MaxDistance }},
	{"maxjitter", "a jitter in seconds", 0, math.Inf(1), false, func(t *Tuning) any { return &t.MaxJitter }},
	{"combinelimit", "a limit", 0, math.Inf(1), false, func(t *Tuning) any { return &t.CombineLimit }},
	{"stratumweight", "a distance in seconds", 0, math.Inf(1), false, func(t *Tuning) any { return &t.StratumWeight }},
	{"reselectdist", "a distance in seconds", 0, math.Inf(1), false, func(t *Tuning) any { return &t.ReselectDist }},
	{"maxclockerror", "an error in ppm", 0, math.Inf(1), false, func(t *Tuning) any { return &t.MaxClockError }},
	{"maxdrift", "a drift in ppm", 0, 500000, false, func(t *Tuning) any { return &t.MaxDrift }},
	{"maxslewrate", "a rate in ppm", 0, math.Inf(1), false, func(t *Tuning) any { return &t.MaxSlewRate }},
	// chrony takes the absolute value of maxupdateskew: see tuningDirective.
	{"maxupdateskew", "a skew in ppm", math.Inf(-1), math.Inf(1), false, func(t *Tuning) any { return &t.MaxUpdateSkew }},
	{"minsamples", "a number of samples", 0, maxInt32, true, func(t *Tuning) any { return &t.MinSamples }},
	{"maxsamples", "a number of samples", 0, maxInt32, true, func(t *Tuning) any { return &t.MaxSamples }},
	{"corrtimeratio", "a ratio", 0, math.Inf(1), false, func(t *Tuning) any { return &t.CorrTimeRatio }},
	{"clockprecision", "a precision in seconds", 0, 1, false, func(t *Tuning) any { return &t.ClockPrecision }},
}

func findTuningNumber(name string) (tuningNumber, bool) {
	for _, d := range tuningNumbers {
		if d.name == name {
			return d, true
		}
	}
	return tuningNumber{}, false
}

// tuningDirective handles the one-number Tuning directives; ok is false
// when l is not one of them.
func (p *parser) tuningDirective(l *line) (ok bool, err error) {
	d, ok := findTuningNumber(l.name)
	if !ok {
		return false, nil
	}
	if _, err := l.oneArg(d.what); err != nil {
		return true, err
	}
	switch f := d.field(&p.cfg.Tuning).(type) {
	case *int:
		v, err := parseInt("", l.arg(0), int(d.lo), int(d.hi))
		if err != nil {
			return true, err
		}
		*f = v
	case *float64:
		v, err := parseFloat("", l.arg(0), d.lo, d.hi)
		if err != nil {
			return true, err
		}
		if d.name == "maxupdateskew" {
			v = math.Abs(v) // as chrony's reference.c does
		}
		*f = v
	}
	return true, nil
}

// fallbackDrift handles `fallbackdrift MIN MAX`. As in chrony, a 0 bound
// or MAX < MIN means no fallback drifts (FallbackDrift nil).
func (p *parser) fallbackDrift(l *line) error {
	if err := wantArgs(l, 2, "a minimum and a maximum interval, log2 seconds"); err != nil {
		return err
	}
	lo, err := parseInt("min", l.arg(0), 0, maxFallbackDrift)
	if err != nil {
		return err
	}
	hi, err := parseInt("max", l.arg(1), 0, maxFallbackDrift)
	if err != nil {
		return err
	}
	p.cfg.Tuning.FallbackDrift = nil
	if lo > 0 && hi >= lo {
		p.cfg.Tuning.FallbackDrift = &FallbackDrift{Min: lo, Max: hi}
	}
	return nil
}

// leapSecTZ handles `leapsectz ZONE`.
func (p *parser) leapSecTZ(l *line) error {
	s, err := l.oneArg("a time zone name, such as right/UTC")
	if err != nil {
		return err
	}
	p.cfg.Tuning.LeapSecTZ = s
	return nil
}

// leapSecMode handles `leapsecmode MODE`. ntpbox leaves leap seconds to
// the kernel, which is chrony's `system` mode; the other modes would
// change the time served around a leap second.
func (p *parser) leapSecMode(l *line) error {
	s, err := l.oneArg("a mode: system, slew, step or ignore")
	if err != nil {
		return err
	}
	switch mode := asciiLower(s); mode {
	case "system":
		return nil
	case "slew", "step", "ignore":
		return fmt.Errorf("%q is not implemented by ntpbox; it would change the time served (use system, which ntpbox does: the kernel inserts or deletes the leap second, or remove the line)", s)
	}
	return fmt.Errorf("expected a mode: system, slew, step or ignore, got %q", s)
}

// lines returns the Tuning directives whose value is not the
// default, as directive and arguments, in chrony.conf syntax.
func (t Tuning) lines() [][]string {
	def := DefaultTuning()
	var out [][]string
	for _, d := range tuningNumbers {
		switch f := d.field(&t).(type) {
		case *int:
			if *f != *d.field(&def).(*int) {
				out = append(out, []string{d.name, strconv.Itoa(*f)})
			}
		case *float64:
			if *f != *d.field(&def).(*float64) {
				out = append(out, []string{d.name, ftoa(*f)})
			}
		}
	}
	if fd := t.FallbackDrift; fd != nil {
		out = append(out, []string{"fallbackdrift", strconv.Itoa(fd.Min), strconv.Itoa(fd.Max)})
	}
	if t.LeapSecTZ != "" {
		out = append(out, []string{"leapsectz", t.LeapSecTZ})
	}
	return out
}

// outOfRange lists the Tuning fields outside their documented ranges.
func (t Tuning) outOfRange() []string {
	var bad []string
	for _, d := range tuningNumbers {
		lo := d.lo
		if d.name == "maxupdateskew" {
			lo = 0
		}
		var ok bool
		switch f := d.field(&t).(type) {
		case *int:
			ok = float64(*f) >= lo && float64(*f) <= d.hi
		case *float64:
			ok = !math.IsNaN(*f) && !math.IsInf(*f, 0) && *f >= lo && *f <= d.hi
		}
		if !ok {
			bad = append(bad, "Tuning."+d.name)
		}
	}
	if fd := t.FallbackDrift; fd != nil && !(fd.Min >= 1 && fd.Min <= fd.Max && fd.Max <= maxFallbackDrift) {
		bad = append(bad, "Tuning.FallbackDrift")
	}
	if !validWord(t.LeapSecTZ) {
		bad = append(bad, "Tuning.LeapSecTZ")
	}
	return bad
}

// validWord reports whether s is "" or one word of a config line, so
// that it renders as one.
func validWord(s string) bool {
	w := splitWords(s)
	return s == "" || len(w) == 1 && w[0] == s && s[0] != '#'
}
