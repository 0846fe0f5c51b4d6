package config

import (
	"fmt"
	"math"
)

// local handles `local [option]...`:
//
//	stratum N        1..15, default 10
//	orphan
//	distance D       seconds >= 0, default 1
//	activate D       seconds >= 0, default 0 (added after chrony 4.3)
//	waitsynced S     seconds >= 0, default 0 (added after chrony 4.3)
//	waitunsynced S   seconds; negative = chrony's default (300 with orphan, else 0) (added after chrony 4.3)
//
// A repeated `local` line replaces the earlier one, as in chrony.
func (p *parser) local(l *line) error {
	loc := Local{Stratum: DefaultLocalStratum, Distance: 1, WaitUnsynced: -1}
	inf := math.Inf(1)
	for i := 0; i < len(l.args); i++ {
		name := asciiLower(l.args[i])
		if name == "orphan" {
			loc.Orphan = true
			continue
		}
		i++
		value := l.arg(i)
		var err error
		switch name {
		case "stratum":
			loc.Stratum, err = parseInt(name, value, 1, 15)
		case "distance":
			loc.Distance, err = parseFloat(name, value, 0, inf)
		case "activate":
			loc.Activate, err = parseFloat(name, value, 0, inf)
		case "waitsynced":
			loc.WaitSynced, err = parseFloat(name, value, 0, inf)
		case "waitunsynced":
			loc.WaitUnsynced, err = parseFloat(name, value, -inf, inf)
			loc.WaitUnsynced = nonNegativeOrMinusOne(loc.WaitUnsynced)
		default:
			err = fmt.Errorf("expected an option (stratum, orphan, distance, activate, waitsynced, waitunsynced), got %q", l.args[i-1])
		}
		if err != nil {
			return err
		}
	}
	p.cfg.Local = &loc
	return nil
}
