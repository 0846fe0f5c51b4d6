package config

import (
	"fmt"
	"math"
)

// This file has the directives about the system clock: makestep,
// maxchange, driftfile, rtcsync, minsources.

// makeStep handles `makestep THRESHOLD LIMIT`.
func (p *parser) makeStep(l *line) error {
	if err := wantArgs(l, 2, "a threshold in seconds and a limit of clock updates"); err != nil {
		return err
	}
	threshold, err := parseFloat("threshold", l.arg(0), 0, math.Inf(1))
	if err != nil {
		return err
	}
	limit, err := parseInt("limit", l.arg(1), minInt32, maxInt32)
	if err != nil {
		return err
	}
	p.cfg.MakeStep = &MakeStep{Threshold: threshold, Limit: nonNegativeOrMinusOne(limit)}
	return nil
}

// maxChange handles `maxchange OFFSET START IGNORE`.
func (p *parser) maxChange(l *line) error {
	if err := wantArgs(l, 3, "an offset in seconds, a number of updates to start after and a number of offsets to ignore"); err != nil {
		return err
	}
	offset, err := parseFloat("offset", l.arg(0), 0, math.Inf(1))
	if err != nil {
		return err
	}
	start, err := parseInt("start", l.arg(1), 0, maxInt32)
	if err != nil {
		return err
	}
	ignore, err := parseInt("ignore", l.arg(2), minInt32, maxInt32)
	if err != nil {
		return err
	}
	p.cfg.MaxChange = &MaxChange{Offset: offset, Start: start, Ignore: nonNegativeOrMinusOne(ignore)}
	return nil
}

// driftFile handles `driftfile FILE`.
func (p *parser) driftFile(l *line) error {
	s, err := l.oneArg("a file name")
	if err != nil {
		return err
	}
	p.cfg.DriftFile = s
	return nil
}

// rtcSync handles `rtcsync`.
func (p *parser) rtcSync(l *line) error {
	if err := l.noArgs(); err != nil {
		return err
	}
	p.cfg.RTCSync = true
	return nil
}

// minSources handles `minsources N`, N >= 1.
func (p *parser) minSources(l *line) error {
	if _, err := l.oneArg("a number of sources"); err != nil {
		return err
	}
	v, err := parseInt("", l.arg(0), 1, maxInt32)
	if err != nil {
		return err
	}
	p.cfg.MinSources = v
	return nil
}

// wantArgs checks that a directive has exactly n arguments.
func wantArgs(l *line, n int, what string) error {
	if len(l.args) != n {
		return fmt.Errorf("expected %d arguments (%s), got %d", n, what, len(l.args))
	}
	return nil
}
