package config

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Validate checks that every field of c is within the range documented
// on it, as Parse and Merge guarantee. It is for a Config that did not
// come from them: one decoded from JSON (see Decode).
func (c *Config) Validate() error {
	if problems := c.outOfRange(); len(problems) > 0 {
		return fmt.Errorf("config: fields out of range: %s", strings.Join(problems, ", "))
	}
	return nil
}

// outOfRange lists the fields of cfg outside their documented ranges.
func (cfg *Config) outOfRange() []string {
	var bad []string
	check := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

	check(cfg.Port >= 0 && cfg.Port <= 65535, "Port")
	check(cfg.CmdPort >= 0 && cfg.CmdPort <= 65535, "CmdPort")
	check(cfg.ClientLogLimit >= 0 && cfg.ClientLogLimit <= maxClientLogLimit, "ClientLogLimit")
	check(cfg.MinSources >= 1, "MinSources")
	check(cfg.BindCmdAddress == "" || strings.HasPrefix(cfg.BindCmdAddress, "/"), "BindCmdAddress")
	check(!cfg.BindCmdIPv4.IsValid() || cfg.BindCmdIPv4.Is4(), "BindCmdIPv4")
	check(!cfg.BindCmdIPv6.IsValid() || (cfg.BindCmdIPv6.Is6() && cfg.BindCmdIPv6.Zone() == ""), "BindCmdIPv6")
	seen := map[string]bool{}
	for _, a := range cfg.BindAddresses {
		check(a.IsValid() && a.Zone() == "" && !seen[a.String()], "BindAddresses")
		seen[a.String()] = true
	}
	for _, r := range append(slices.Clip(cfg.Access), cfg.CmdAccess...) {
		if r.Any || r.Connected {
			check(r.Prefix == (AccessRule{}).Prefix && !(r.Any && r.Connected), "AccessRule.Prefix with Any or Connected")
		} else {
			check(r.Prefix.IsValid() && r.Prefix == r.Prefix.Masked() && r.Prefix.Addr().Zone() == "", "AccessRule.Prefix")
		}
	}
	if l := cfg.Local; l != nil {
		check(l.Stratum >= 1 && l.Stratum <= 15, "Local.Stratum")
		check(finite(l.Distance) && l.Distance >= 0, "Local.Distance")
		check(finite(l.Activate) && l.Activate >= 0, "Local.Activate")
		check(finite(l.WaitSynced) && l.WaitSynced >= 0, "Local.WaitSynced")
		check(finite(l.WaitUnsynced) && (l.WaitUnsynced >= 0 || l.WaitUnsynced == -1), "Local.WaitUnsynced")
	}
	if r := cfg.RateLimit; r != nil {
		check(r.Interval >= -19 && r.Interval <= 12, "RateLimit.Interval")
		check(r.Burst >= 1 && r.Burst <= 255, "RateLimit.Burst")
		check(r.Leak >= 1 && r.Leak <= 4, "RateLimit.Leak")
		check(r.KoD >= 0 && r.KoD <= 4, "RateLimit.KoD")
		check(!cfg.NoClientLog, "RateLimit with NoClientLog")
	}
	for _, s := range cfg.Sources {
		check(validHost(s.Host), "Source.Host")
		check(s.Port >= 1 && s.Port <= 65535, "Source.Port")
		check(s.MinPoll >= minPoll && s.MinPoll <= maxPoll, "Source.MinPoll")
		check(s.MaxPoll >= minPoll && s.MaxPoll <= maxPoll && s.MaxPoll >= s.MinPoll, "Source.MaxPoll")
		if s.Pool {
			check(s.MaxSources >= 1 && s.MaxSources <= maxMaxSources, "Source.MaxSources")
		} else {
			check(s.MaxSources == 0, "Source.MaxSources of a server")
		}
		check(finite(s.MaxDelay) && s.MaxDelay >= 0 && s.MaxDelay <= maxMaxDelay, "Source.MaxDelay")
		check(finite(s.MaxDelayRatio) && s.MaxDelayRatio >= 0 && s.MaxDelayRatio <= maxDelayRatio, "Source.MaxDelayRatio")
		check(finite(s.MaxDelayDevRatio) && s.MaxDelayDevRatio >= 0 && s.MaxDelayDevRatio <= maxDelayRatio, "Source.MaxDelayDevRatio")
		check(finite(s.MinDelay) && s.MinDelay >= 0, "Source.MinDelay")
		check(s.Asymmetry >= -maxAsymmetry && s.Asymmetry <= maxAsymmetry || s.Asymmetry == DefaultAsymmetry, "Source.Asymmetry")
		check(finite(s.Offset), "Source.Offset")
		check(s.MinStratum >= 0 && s.MinStratum <= 16, "Source.MinStratum")
		check(s.Filter >= 0, "Source.Filter")
		check(s.PollTarget >= 1, "Source.PollTarget")
		check(s.Presend >= -32 && s.Presend <= 32 || s.Presend == DefaultPresend, "Source.Presend")
		check(s.Version >= 1 && s.Version <= 4, "Source.Version")
		check(s.MinSamples >= -1, "Source.MinSamples")
		check(s.MaxSamples >= -1, "Source.MaxSamples")
		for _, o := range s.Options {
			kind, ok := sourceOption(o)
			check(ok && o == asciiLower(o) && kind >= optFlag, "Source.Options")
		}
	}
	bad = append(bad, cfg.Tuning.outOfRange()...)
	if m := cfg.MakeStep; m != nil {
		check(finite(m.Threshold) && m.Threshold >= 0, "MakeStep.Threshold")
		check(m.Limit >= -1, "MakeStep.Limit")
	}
	if m := cfg.MaxChange; m != nil {
		check(finite(m.Offset) && m.Offset >= 0, "MaxChange.Offset")
		check(m.Start >= 0, "MaxChange.Start")
		check(m.Ignore >= -1, "MaxChange.Ignore")
	}
	return bad
}

// Encode is the config as init hands it to the service: JSON, typed,
// with the origins, so that nothing parses directive words twice.
func Encode(c *Config) ([]byte, error) { return json.MarshalIndent(c, "", "\t") }

// Decode reads what Encode wrote, and validates it.
func Decode(b []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if len(c.Origins) == 0 {
		c.Origins = nil // Encode leaves an empty map out: the same config either way
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
