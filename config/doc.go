// Package config reads ntpbox's config file into a typed, validated Config.
//
// The file uses chrony.conf(5) syntax (chrony 4.3), so an existing chrony
// configuration works as it is: one directive per line, words separated by
// white space, directive and option names case-insensitive, comment lines
// starting with #, !, ; or %. A `#` after a directive is an ordinary word,
// as in chrony (there are no trailing comments), and usually gives an
// "extra argument" or "unknown option" error.
//
// ntpbox implements allow, deny, local, port, bindaddress, ratelimit,
// clientloglimit, noclientlog, server, pool, makestep, driftfile, rtcsync,
// minsources, maxchange, bindcmdaddress, cmdport, pidfile, include and
// confdir; the selection and clock directives of Config.Tuning
// (maxdistance, maxjitter, combinelimit, stratumweight, reselectdist,
// maxclockerror, maxdrift, maxslewrate, maxupdateskew, minsamples,
// maxsamples, corrtimeratio, fallbackdrift, leapsectz, clockprecision);
// `leapsecmode system`; and three directives of its own for discovery
// that chrony does not have: advertise, dhcp and dns (see discovery.go).
// The chrony directives that would change the time served if ignored
// (peer, refclock, manual, initstepslew, smoothtime, tempcomp, and
// leapsecmode other than system) are an Error. Every other chrony
// directive is accepted with a Warning that ntpbox ignores it; a word that
// is no chrony directive is an Error. The options of server and pool that
// ntpbox does not implement are checked, listed in Source.Options and
// warned about.
//
// Parsing has no side effects other than reading the included files
// through an FS: it does not resolve host names, open sockets or write
// files, so the image builder can validate a config on the build host
// before it ever reaches a box. All bad lines are reported at once, each
// as an *Error naming the file, the line, the directive, what was expected
// and what was found:
//
//	/etc/ntpbox.conf:7: allow: expected an address, a subnet or "all", got "10.0.0.0/33" (the prefix length must be 0..32)
//
// A repeated single-value directive overrides the earlier one, as in
// chrony.
package config
