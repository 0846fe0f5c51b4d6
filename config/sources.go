package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Poll and pool limits from chrony.conf(5) (chrony 4.3).
const (
	minPoll       = -7
	maxPoll       = 24
	maxMaxSources = 16
)

// source handles `server HOST [option]...` and `pool NAME [option]...`.
// The options ntpbox implements fill Source's typed fields; the other
// chrony 4.3 options are checked, listed in Options and warned about; any
// other word is an error. A repeated option overrides the earlier one.
func (p *parser) source(l *line) error {
	src := DefaultSource(l.name == "pool")
	src.Origin = l.origin
	if len(l.args) == 0 {
		return fmt.Errorf("expected a hostname or an IP address, got nothing")
	}
	src.Host = l.args[0]
	if _, isOption := sourceOption(asciiLower(src.Host)); isOption {
		return fmt.Errorf("expected a hostname or an IP address before the options, got option %q", src.Host)
	}
	if !validHost(src.Host) {
		return fmt.Errorf("expected a hostname or an IP address, got %q", src.Host)
	}

	var minSet, maxSet bool
	for i := 1; i < len(l.args); i++ {
		name := asciiLower(l.args[i])
		kind, ok := sourceOption(name)
		if !ok {
			return fmt.Errorf("unknown option %q", l.args[i])
		}
		var value *string
		if kind != optFlag {
			i++
			value = l.arg(i)
		}
		var err error
		switch name {
		case "minpoll":
			src.MinPoll, err = parseInt(name, value, minPoll, maxPoll)
			minSet = true
		case "maxpoll":
			src.MaxPoll, err = parseInt(name, value, minPoll, maxPoll)
			maxSet = true
		case "port":
			src.Port, err = parseInt(name, value, 1, 65535)
		case "maxsources":
			var n int
			n, err = parseInt(name, value, 1, maxMaxSources)
			if err == nil && !src.Pool {
				p.warn(l, "option \"maxsources\" applies only to pool; ignored")
			} else if err == nil {
				src.MaxSources = n
			}
		case "iburst":
			src.IBurst = true
		case "burst":
			src.Burst = true
		case "prefer":
			src.Prefer = true
		case "noselect":
			src.NoSelect = true
		case "trust":
			src.Trust = true
		case "require":
			src.Require = true
		case "key", "nts":
			err = fmt.Errorf("option %q: %s", name, msgNoAuth)
		case "xleave":
			src.XLeave = true
		default:
			var ok bool
			if ok, err = sourceValue(&src, name, value); ok {
				break
			}
			err = checkOptionValue(name, kind, value)
			if err == nil && !slices.Contains(src.Options, name) {
				src.Options = append(src.Options, name)
				p.warn(l, fmt.Sprintf("option %q is not implemented by ntpbox; ignored", name))
			}
		}
		if err != nil {
			return err
		}
	}

	// When only one poll bound was written, the other one gives way, so
	// `minpoll 12` alone means minpoll 12 maxpoll 12 (as in chrony) and
	// `maxpoll 4` alone means minpoll 4 maxpoll 4.
	if src.MaxPoll < src.MinPoll {
		switch {
		case minSet && maxSet:
			return fmt.Errorf("expected maxpoll >= minpoll, got minpoll %d and maxpoll %d", src.MinPoll, src.MaxPoll)
		case minSet:
			src.MaxPoll = src.MinPoll
		default:
			src.MinPoll = src.MaxPoll
		}
	}
	p.cfg.Sources = append(p.cfg.Sources, src)
	return nil
}

// DefaultSource returns a server (or pool) Source with chrony's default
// for every option and no host: what a `server`/`pool` line without
// options gives.
func DefaultSource(pool bool) Source {
	s := Source{
		Pool:             pool,
		Port:             DefaultPort,
		MinPoll:          DefaultMinPoll,
		MaxPoll:          DefaultMaxPoll,
		MaxDelay:         DefaultMaxDelay,
		MaxDelayDevRatio: DefaultMaxDelayDevRatio,
		Asymmetry:        DefaultAsymmetry,
		PollTarget:       DefaultPollTarget,
		Presend:          DefaultPresend,
		Version:          DefaultVersion,
		MinSamples:       -1,
		MaxSamples:       -1,
	}
	if pool {
		s.MaxSources = DefaultMaxSources
	}
	return s
}

// validHost reports whether s is an IP address or a syntactically valid
// host name (letters, digits, '-' and '_' in dot-separated labels of at
// most 63 characters, not all-numeric at the end, optionally ending in a
// dot). Names are not resolved.
func validHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return looksLikeHostname(s)
}

func looksLikeHostname(s string) bool {
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}
