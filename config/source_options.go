package config

import (
	"fmt"
	"math"
)

type optionKind int

const (
	optFlag  optionKind = iota // a word alone
	optValue                   // a word followed by a value
)

// sourceOption reports whether name (lower case) is a server/pool option
// and whether it takes a value. The list is chrony 4.3's (chrony.conf(5)),
// plus ipv4, ipv6 and maxunreach from later releases so that newer configs are
// not rejected.
func sourceOption(name string) (optionKind, bool) {
	switch name {
	// Implemented by ntpbox.
	case "iburst", "burst", "prefer", "noselect", "trust", "require":
		return optFlag, true
	case "minpoll", "maxpoll", "port", "maxsources":
		return optValue, true

	// Accepted, not implemented.
	case "xleave", "nts", "auto_offline", "offline", "copy", "ipv4", "ipv6":
		return optFlag, true
	case "key", "certset", "maxdelay", "maxdelayratio", "maxdelaydevratio",
		"maxdelayquant", "mindelay", "asymmetry", "offset", "minsamples",
		"maxsamples", "filter", "polltarget", "ntsport", "presend",
		"minstratum", "version", "extfield", "maxunreach":
		return optValue, true
	}
	return 0, false
}

// checkOptionValue checks the value of an option ntpbox does not implement,
// with the syntax and limits chrony's own parser applies, so a config
// ntpbox accepts is one chrony would accept too.
func checkOptionValue(name string, kind optionKind, v *string) error {
	if kind == optFlag {
		return nil
	}
	inf := math.Inf(1)
	var err error
	switch name {
	case "key":
		err = parseUint32(name, v, 1)
	case "certset":
		err = parseUint32(name, v, 0)
	case "asymmetry":
		_, err = parseFloat(name, v, -0.5, 0.5)
	case "maxdelay":
		_, err = parseFloat(name, v, 0, 1000)
	case "maxdelayratio", "maxdelaydevratio", "mindelay":
		_, err = parseFloat(name, v, 0, inf)
	case "maxdelayquant":
		_, err = parseFloat(name, v, 0, 1)
	case "offset":
		_, err = parseFloat(name, v, -inf, inf)
	case "minsamples", "maxsamples", "filter", "maxunreach":
		_, err = parseInt(name, v, 0, maxInt32)
	case "polltarget":
		_, err = parseInt(name, v, 1, maxInt32)
	case "ntsport":
		_, err = parseInt(name, v, 0, 65535)
	case "presend":
		_, err = parseInt(name, v, -32, 32)
	case "minstratum":
		_, err = parseInt(name, v, 0, 16)
	case "version":
		_, err = parseInt(name, v, 1, 4)
	case "extfield":
		err = checkExtField(name, v)
	default:
		err = fmt.Errorf("%s: no check for this option", name) // unreachable: sourceOption and this switch list the same options
	}
	return err
}

// checkExtField accepts the NTP extension field types chrony knows: F323
// (in the chrony 4.3 man page) and F324 (added later).
func checkExtField(name string, v *string) error {
	t, err := parseHex32(name, v)
	if err != nil {
		return err
	}
	if t != 0xF323 && t != 0xF324 {
		return fmt.Errorf("%s: expected extension field type F323 or F324, got %q", name, *v)
	}
	return nil
}
