package config

// Messages of the warnings for directives ntpbox ignores.
const (
	msgNotImplemented = "not implemented by ntpbox; ignored"
	msgObsolete       = "no longer supported by chrony; ignored"
)

// msgChangesTime is the error of a directive ntpbox rejects.
const msgChangesTime = "not implemented by ntpbox; it would change the time served (remove it)"

// msgNoAuth is the error of a directive or option that asks for
// authenticated time (symmetric keys or NTS), which ntpbox does not
// build: polling or serving without the authentication that was asked
// for would fail open.
const msgNoAuth = "authentication (symmetric keys, NTS) is not built into ntpbox; it would poll or serve time without the authentication this asks for (remove it, or use chronyd)"

// needsAuth reports whether name (lower case) is a directive that asks
// for authentication ntpbox does not build.
func needsAuth(name string) bool {
	switch name {
	case "keyfile", "ntsserverkey", "ntsservercert":
		return true
	}
	return false
}

// rejected reports whether name (lower case) is a chrony directive that
// ntpbox does not implement and that would change the time it serves, so
// that ignoring it would serve other time than chronyd with the same
// file: such a config is an error, not a warning. (leapsecmode is
// rejected by its handler unless its mode is system.)
func rejected(name string) bool {
	switch name {
	case
		"peer",         // a symmetric association: a time source ntpbox would not use
		"refclock",     // a reference clock: likewise
		"manual",       // time set by hand with chronyc settime
		"initstepslew", // steps or slews the clock at start from the sources it names
		"smoothtime",   // serves a smoothed time, not the system time
		"tempcomp":     // corrects the clock's frequency for temperature
		return true
	}
	return false
}

// unimplemented reports whether name (lower case) is a chrony directive
// that ntpbox accepts without implementing it, and the warning to give.
//
// The list is every directive of chrony.conf(5) for chrony 4.3 that ntpbox
// neither implements nor rejects (see rejected), plus a few from later chrony releases (so newer
// configs are not rejected) and the obsolete ones chrony 4.3 itself still
// accepts with a warning.
func unimplemented(name string) (msg string, ok bool) {
	switch name {
	// chrony 4.3, in the order of chrony.conf(5).
	case
		// Time sources.
		"acquisitionport", "bindacqaddress", "bindacqdevice", "dscp",
		"dumpdir", "ntsdumpdir", "ntsrefresh", "ntstrustedcerts",
		"nosystemcert", "nocerttimecheck",
		// Source selection.
		"authselectmode",
		// NTP server.
		"binddevice", "broadcast", "ntpsigndsocket", "ntsport",
		"ntsprocesses", "maxntsconnections",
		"ntsntpserver", "ntsrotate", "ntsratelimit",
		// Command and monitoring access.
		"bindcmddevice", "cmdratelimit",
		// Real-time clock.
		"hwclockfile", "rtcautotrim", "rtcdevice", "rtcfile", "rtconutc",
		// Logging.
		"log", "logbanner", "logchange", "logdir", "mailonchange",
		// Miscellaneous. hwtimestamp only makes timestamps more precise,
		// and chronyd itself falls back to software timestamps when the
		// hardware cannot; sourcedir adds sources from files, which are
		// usually absent (Debian's chrony.conf names two).
		"sourcedir", "hwtimestamp", "lock_all", "ptpport",
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
