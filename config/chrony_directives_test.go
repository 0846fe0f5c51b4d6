package config

import (
	"slices"
	"strings"
	"testing"
)

// chrony43Directives is every directive of chrony.conf(5) for chrony 4.3,
// copied from the man page.
var chrony43Directives = strings.Fields(`
	server pool peer initstepslew refclock manual acquisitionport
	bindacqaddress bindacqdevice dscp dumpdir maxsamples minsamples
	ntsdumpdir ntsrefresh ntstrustedcerts nosystemcert nocerttimecheck
	authselectmode combinelimit maxdistance maxjitter minsources
	reselectdist stratumweight clockprecision corrtimeratio driftfile
	fallbackdrift leapsecmode leapsectz makestep maxchange maxclockerror
	maxdrift maxupdateskew maxslewrate tempcomp allow deny bindaddress
	binddevice broadcast clientloglimit noclientlog local ntpsigndsocket
	ntsport ntsservercert ntsserverkey ntsprocesses maxntsconnections
	ntsntpserver ntsrotate port ratelimit ntsratelimit smoothtime
	bindcmdaddress bindcmddevice cmdallow cmddeny cmdport cmdratelimit
	hwclockfile rtcautotrim rtcdevice rtcfile rtconutc rtcsync log
	logbanner logchange logdir mailonchange confdir sourcedir include
	hwtimestamp keyfile lock_all pidfile ptpport sched_priority user`)

var implemented = map[string]bool{
	"allow": true, "deny": true, "local": true, "port": true, "bindaddress": true,
	"ratelimit": true, "clientloglimit": true, "noclientlog": true, "server": true,
	"pool": true, "makestep": true, "driftfile": true, "rtcsync": true,
	"minsources": true, "maxchange": true, "bindcmdaddress": true, "cmdport": true,
	"cmdallow": true, "cmddeny": true,
	"pidfile": true, "include": true, "confdir": true,
	// Config.Tuning.
	"maxdistance": true, "maxjitter": true, "combinelimit": true, "stratumweight": true,
	"reselectdist": true, "maxclockerror": true, "maxdrift": true, "maxslewrate": true,
	"maxupdateskew": true, "minsamples": true, "maxsamples": true, "corrtimeratio": true,
	"fallbackdrift": true, "leapsectz": true, "clockprecision": true,
	// `leapsecmode system` only; the other modes are rejected.
	"leapsecmode": true,
}

// rejectedDirectives are the chrony 4.3 directives that are an error:
// ignoring them would change the time served.
var rejectedDirectives = []string{"peer", "refclock", "manual", "initstepslew", "smoothtime", "tempcomp"}

// authDirectives are the chrony 4.3 directives that ask for
// authentication ntpbox does not build: errors, so it fails closed.
var authDirectives = []string{"keyfile", "ntsserverkey", "ntsservercert"}

// TestEveryChronyDirectiveKnown checks that each chrony 4.3 directive is
// implemented, rejected or warned about, whatever its arguments.
func TestEveryChronyDirectiveKnown(t *testing.T) {
	for _, name := range chrony43Directives {
		if implemented[name] || slices.Contains(rejectedDirectives, name) || slices.Contains(authDirectives, name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			text := "\n" + strings.ToUpper(name) + " some arguments 1 2 3"
			_, warnings := mustParse(t, text)
			want := "test.conf:2: " + name + ": not implemented by ntpbox; ignored"
			if len(warnings) != 1 || warnings[0].String() != want {
				t.Errorf("warnings %v, want [%s]", warnings, want)
			}
		})
	}
	if got := len(implemented); got != 38 {
		t.Errorf("%d implemented directives listed, want 38", got)
	}
	for name := range implemented {
		if _, ok := unimplemented(name); ok {
			t.Errorf("%s is both implemented and in the unimplemented list", name)
		}
		if rejected(name) {
			t.Errorf("%s is both implemented and rejected", name)
		}
	}
	for _, name := range rejectedDirectives {
		if _, ok := unimplemented(name); ok {
			t.Errorf("%s is both rejected and in the unimplemented list", name)
		}
		if !slices.Contains(chrony43Directives, name) {
			t.Errorf("%s is not a chrony 4.3 directive", name)
		}
	}
}

// TestRejectedDirectives: a directive that would change the time served
// is an error naming it, whatever its arguments, and stops the config.
func TestRejectedDirectives(t *testing.T) {
	for _, name := range rejectedDirectives {
		for _, args := range []string{"", " 1 2 3", " PPS /dev/pps0 refid GPS"} {
			t.Run(name+args, func(t *testing.T) {
				cfg, warnings, err := ParseBytes(testFile, []byte("server ntp1\n"+strings.ToUpper(name)+args+"\n"))
				want := "test.conf:2: " + name + ": not implemented by ntpbox; it would change the time served (remove it)"
				if cfg != nil || err == nil || err.Error() != want {
					t.Errorf("got %v, %v; want the error %q", cfg, err, want)
				}
				if len(warnings) != 0 {
					t.Errorf("warnings %v, want none", warnings)
				}
			})
		}
	}
}

// TestAuthDirectivesFailClosed: a directive that asks for authenticated
// time is an error naming its line, whatever its arguments: ntpbox would
// otherwise serve or poll without the authentication asked for.
func TestAuthDirectivesFailClosed(t *testing.T) {
	for _, name := range authDirectives {
		if !slices.Contains(chrony43Directives, name) {
			t.Errorf("%s is not a chrony 4.3 directive", name)
		}
		if _, ok := unimplemented(name); ok || rejected(name) || implemented[name] {
			t.Errorf("%s is also in another list", name)
		}
		for _, args := range []string{"", " /etc/chrony/chrony.keys", " /etc/ssl/missing.pem"} {
			t.Run(name+args, func(t *testing.T) {
				cfg, _, err := ParseBytes(testFile, []byte("server ntp1\nallow\n"+name+args+"\n"))
				want := "test.conf:3: " + name + ": authentication (symmetric keys, NTS) is not built into ntpbox"
				if cfg != nil || err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got %v, %v; want an error starting %q", cfg, err, want)
				}
			})
		}
	}
}

func TestLeapSecMode(t *testing.T) {
	for _, line := range []string{"leapsecmode system", "LEAPSECMODE System"} {
		cfg, warnings := mustParse(t, line)
		if len(warnings) != 0 {
			t.Errorf("%s: warnings %v, want none", line, warnings)
		}
		if o, ok := cfg.OriginOf("leapsecmode"); !ok || o.Line != 1 {
			t.Errorf("%s: origin %v %v", line, o, ok)
		}
	}
	tests := []struct{ line, want string }{
		{"leapsecmode slew", `test.conf:1: leapsecmode: "slew" is not implemented by ntpbox; it would change the time served (use system, which ntpbox does: the kernel inserts or deletes the leap second, or remove the line)`},
		{"leapsecmode STEP", `test.conf:1: leapsecmode: "STEP" is not implemented by ntpbox; it would change the time served (use system, which ntpbox does: the kernel inserts or deletes the leap second, or remove the line)`},
		{"leapsecmode ignore", `test.conf:1: leapsecmode: "ignore" is not implemented by ntpbox; it would change the time served (use system, which ntpbox does: the kernel inserts or deletes the leap second, or remove the line)`},
		{"leapsecmode smear", `test.conf:1: leapsecmode: expected a mode: system, slew, step or ignore, got "smear"`},
		{"leapsecmode", `test.conf:1: leapsecmode: expected a mode: system, slew, step or ignore, got nothing`},
		{"leapsecmode system slew", `test.conf:1: leapsecmode: expected only a mode: system, slew, step or ignore, got extra argument "slew"`},
	}
	for _, tt := range tests {
		_, _, err := ParseBytes(testFile, []byte(tt.line))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %s", tt.line, err, tt.want)
		}
	}
}

func TestObsoleteAndLaterDirectives(t *testing.T) {
	tests := []struct {
		line string
		msg  string
	}{
		{"linux_hz 100", msgObsolete},
		{"commandkey 1", msgObsolete},
		{"generatecommandkey", msgObsolete},
		{"linux_freq_scale 0.99", msgObsolete},
		{"dumponexit", msgObsolete},
		{"leapseclist /usr/share/zoneinfo/leap-seconds.list", msgNotImplemented},
		{"opencommands tracking", msgNotImplemented},
		{"ntsaeads 15", msgNotImplemented},
		{"ptpdomain 1", msgNotImplemented},
		{"hwtstimeout 0.01", msgNotImplemented},
		{"refresh 1209600", msgNotImplemented},
		{"ntscachedir /var/lib/chrony", msgNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, warnings := mustParse(t, tt.line)
			if len(warnings) != 1 || warnings[0].Msg != tt.msg {
				t.Errorf("warnings %v, want one %q", warnings, tt.msg)
			}
		})
	}
}
