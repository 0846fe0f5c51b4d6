package config

// Messages of the warnings for directives ntpbox ignores.
const (
	msgNotImplemented = "not implemented by ntpbox; ignored"
	msgObsolete       = "no longer supported by chrony; ignored"
)

// unimplemented reports whether name (lower case) is a chrony directive
// that ntpbox accepts without implementing it, and the warning to give.
//
// The list is every directive of chrony.conf(5) for chrony 4.3 that ntpbox
// does not implement, plus a few from later chrony releases (so newer
// configs are not rejected) and the obsolete ones chrony 4.3 itself still
// accepts with a warning.
func unimplemented(name string) (msg string, ok bool) {
	switch name {
	// chrony 4.3, in the order of chrony.conf(5).
	case
		// Time sources.
		"peer", "initstepslew", "refclock", "manual", "acquisitionport",
		"bindacqaddress", "bindacqdevice", "dscp", "dumpdir", "maxsamples",
		"minsamples", "ntsdumpdir", "ntsrefresh", "ntstrustedcerts",
		"nosystemcert", "nocerttimecheck",
		// Source selection.
		"authselectmode", "combinelimit", "maxdistance", "maxjitter",
		"reselectdist", "stratumweight",
		// System clock.
		"clockprecision", "corrtimeratio", "fallbackdrift", "leapsecmode",
		"leapsectz", "maxclockerror", "maxdrift", "maxupdateskew",
		"maxslewrate", "tempcomp",
		// NTP server.
		"binddevice", "broadcast", "ntpsigndsocket", "ntsport",
		"ntsservercert", "ntsserverkey", "ntsprocesses", "maxntsconnections",
		"ntsntpserver", "ntsrotate", "ntsratelimit", "smoothtime",
		// Command and monitoring access.
		"bindcmddevice", "cmdallow", "cmddeny", "cmdratelimit",
		// Real-time clock.
		"hwclockfile", "rtcautotrim", "rtcdevice", "rtcfile", "rtconutc",
		// Logging.
		"log", "logbanner", "logchange", "logdir", "mailonchange",
		// Miscellaneous.
		"sourcedir", "hwtimestamp", "keyfile", "lock_all", "ptpport",
		"sched_priority", "user",
		// Undocumented alias of ntsdumpdir that chrony 4.x accepts.
		"ntscachedir":
		return msgNotImplemented, true

	// Later chrony releases.
	case "hwtstimeout", "leapseclist", "ntsaeads", "opencommands", "ptpdomain", "refresh":
		return msgNotImplemented, true

	// Obsolete directives chrony accepts only to warn about them.
	case "commandkey", "generatecommandkey", "linux_freq_scale", "linux_hz", "dumponexit":
		return msgObsolete, true
	}
	return "", false
}
