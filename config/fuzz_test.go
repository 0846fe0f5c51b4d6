package config

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that ParseBytes never panics, that a failure is made
// of *Error values naming the file, and that a Config it accepts has every
// field within the range documented on it. The seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("server 0.centos.pool.ntp.org iburst\nallow 10.0.0.0/8\nlocal stratum 3\n"))
	f.Add([]byte("address 198.18.0.2/24 # the box\ngateway 198.18.0.1\nnameserver 198.18.0.53\nhostname ntp1\nallow connected\ndeny 198.18.0.64/26\nlocal stratum 10 orphan waitunsynced 30\n"))
	f.Add([]byte("advertise 198.18.0.2\ndhcp server 198.18.0.100 198.18.0.150 lease 2h router 198.18.0.1 dns 198.18.0.1\ndns zone lab.test\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warnings, err := ParseBytes("fuzz.conf", data)
		for _, w := range warnings {
			if w.Origin.File != "fuzz.conf" || w.Origin.Line < 1 || w.Directive == "" || w.Msg == "" {
				t.Errorf("malformed warning %+v", w)
			}
		}
		if err != nil {
			if cfg != nil {
				t.Fatalf("Config returned with error %v", err)
			}
			checkErrors(t, err)
			return
		}
		if cfg == nil {
			t.Fatal("nil Config without error")
		}
		if problems := outOfRange(cfg); len(problems) > 0 {
			t.Errorf("accepted %q with fields out of range: %s", data, strings.Join(problems, "; "))
		}
		// What `ntpbox config` prints parses back to the same settings.
		var buf bytes.Buffer
		if err := cfg.Render(&buf); err != nil {
			t.Fatal(err)
		}
		back, _, err := ParseBytes("rendered.conf", buf.Bytes())
		if err != nil {
			t.Fatalf("%q renders as\n%s\nwhich does not parse: %v", data, buf.Bytes(), err)
		}
		if a, b := settings(cfg), settings(back); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q renders as\n%s\nwhich parses to other settings:\n got  %+v\n want %+v", data, buf.Bytes(), b, a)
		}
	})
}

// settings is cfg without the origins, and without what Render can only
// show as a comment (the source options ntpbox ignores).
func settings(cfg *Config) Config {
	c := *cfg
	c.Origins = nil
	c.Access = append([]AccessRule(nil), c.Access...)
	for i := range c.Access {
		c.Access[i].Origin = Origin{}
	}
	c.Sources = append([]Source(nil), c.Sources...)
	for i := range c.Sources {
		c.Sources[i].Origin = Origin{}
		c.Sources[i].Options = nil
	}
	if c.DHCP != nil {
		d := *c.DHCP
		d.Origin = Origin{}
		c.DHCP = &d
	}
	if c.DHCP6 != nil {
		d := *c.DHCP6
		d.Origin = Origin{}
		c.DHCP6 = &d
	}
	return c
}

func checkErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not errors.Join of *Error", err)
	}
	for _, e := range joined.Unwrap() {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Fatalf("error %v (%T) is not an *Error", e, e)
		}
		if pe.Origin.File != "fuzz.conf" || pe.Origin.Line < 1 || pe.Directive == "" || pe.Msg == "" {
			t.Errorf("malformed error %+v", pe)
		}
	}
}

// outOfRange lists the fields of cfg outside their documented ranges.
func outOfRange(cfg *Config) []string {
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
	check(cfg.BindCmdAddress == "" || validCmdAddress(cfg.BindCmdAddress), "BindCmdAddress")
	seen := map[string]bool{}
	for _, a := range cfg.BindAddresses {
		check(a.IsValid() && a.Zone() == "" && !seen[a.String()], "BindAddresses")
		seen[a.String()] = true
	}
	for _, r := range cfg.Access {
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
		check(s.Origin.Line >= 1 && validHost(s.Host), "Source.Host")
		check(s.Port >= 1 && s.Port <= 65535, "Source.Port")
		check(s.MinPoll >= minPoll && s.MinPoll <= maxPoll, "Source.MinPoll")
		check(s.MaxPoll >= minPoll && s.MaxPoll <= maxPoll && s.MaxPoll >= s.MinPoll, "Source.MaxPoll")
		if s.Pool {
			check(s.MaxSources >= 1 && s.MaxSources <= maxMaxSources, "Source.MaxSources")
		} else {
			check(s.MaxSources == 0, "Source.MaxSources of a server")
		}
		for _, o := range s.Options {
			kind, ok := sourceOption(o)
			check(ok && o == asciiLower(o) && kind >= optFlag, "Source.Options")
		}
	}
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

// validCmdAddress reports whether s is a socket path or an IP address in
// canonical form.
func validCmdAddress(s string) bool {
	if strings.HasPrefix(s, "/") {
		return true
	}
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Zone() == "" && addr.String() == s
}
