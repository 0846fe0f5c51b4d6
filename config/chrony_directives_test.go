package config

import (
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
	"pidfile": true, "include": true, "confdir": true,
}

// TestEveryChronyDirectiveKnown checks that each chrony 4.3 directive is
// either implemented or warned about, whatever its arguments.
func TestEveryChronyDirectiveKnown(t *testing.T) {
	for _, name := range chrony43Directives {
		if implemented[name] {
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
	if got := len(implemented); got != 20 {
		t.Errorf("%d implemented directives listed, want 20", got)
	}
	for name := range implemented {
		if _, ok := unimplemented(name); ok {
			t.Errorf("%s is both implemented and in the unimplemented list", name)
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
