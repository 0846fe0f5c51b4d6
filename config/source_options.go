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
	case "iburst", "burst", "prefer", "noselect", "trust", "require", "xleave":
		return optFlag, true
	case "minpoll", "maxpoll", "port", "maxsources", "maxdelay",
		"maxdelayratio", "maxdelaydevratio", "mindelay", "asymmetry",
		"offset", "minsamples", "maxsamples", "filter", "polltarget",
		"presend", "minstratum", "version":
		return optValue, true

	// Rejected: they ask for authentication (see msgNoAuth).
	case "nts":
		return optFlag, true
	case "key":
		return optValue, true

	// Accepted, not implemented.
	case "auto_offline", "offline", "copy", "ipv4", "ipv6":
		return optFlag, true
	case "certset", "maxdelayquant", "ntsport", "extfield", "maxunreach":
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
	var err error
	switch name {
	case "certset":
		err = parseUint32(name, v, 0)
	case "maxdelayquant":
		_, err = parseFloat(name, v, 0, 1)
	case "maxunreach":
		_, err = parseInt(name, v, 0, maxInt32)
	case "ntsport":
		_, err = parseInt(name, v, 0, 65535)
	case "extfield":
		err = checkExtField(name, v)
	default:
		err = fmt.Errorf("%s: no check for this option", name) // unreachable: sourceOption and this switch list the same options
	}
	return err
}

// Limits of the source options, as chrony clamps them (ntp_core.c,
// sourcestats.c); ntpbox rejects a value outside them.
const (
	maxMaxDelay   = 1000 // maxdelay, s
	maxDelayRatio = 1e6  // maxdelayratio and maxdelaydevratio
	maxAsymmetry  = 0.5  // |asymmetry|
)

// sourceValue parses the value of one of the measurement options of a
// server or pool line into src. ok is false when name is not one of them.
func sourceValue(src *Source, name string, v *string) (ok bool, err error) {
	inf := math.Inf(1)
	switch name {
	case "maxdelay":
		src.MaxDelay, err = parseFloat(name, v, 0, maxMaxDelay)
	case "maxdelayratio":
		src.MaxDelayRatio, err = parseFloat(name, v, 0, maxDelayRatio)
	case "maxdelaydevratio":
		src.MaxDelayDevRatio, err = parseFloat(name, v, 0, maxDelayRatio)
	case "mindelay":
		src.MinDelay, err = parseFloat(name, v, 0, inf)
	case "asymmetry":
		src.Asymmetry, err = parseFloat(name, v, -maxAsymmetry, maxAsymmetry)
	case "offset":
		src.Offset, err = parseFloat(name, v, -inf, inf)
	case "minstratum":
		src.MinStratum, err = parseInt(name, v, 0, 16)
	case "filter":
		src.Filter, err = parseInt(name, v, 0, maxInt32)
	case "polltarget":
		src.PollTarget, err = parseInt(name, v, 1, maxInt32)
	case "presend":
		src.Presend, err = parseInt(name, v, -32, 32)
	case "version":
		src.Version, err = parseInt(name, v, 1, 4)
	case "minsamples":
		src.MinSamples, err = parseInt(name, v, 0, maxInt32)
	case "maxsamples":
		src.MaxSamples, err = parseInt(name, v, 0, maxInt32)
	default:
		return false, nil
	}
	return true, err
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
