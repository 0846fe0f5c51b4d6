// Package control is how `ntpbox sources`, `sourcestats`, `tracking`,
// `clients` and the other status commands talk to a running `ntpbox
// serve`, and how they print the answer the way chronyc 4.3 does, so an
// admin who knows chronyc reads it without learning anything new.
//
// The daemon listens on a unix socket (Listen, at SocketPath(cfg), by
// default /run/ntpbox/ntpbox.sock) and answers with Serve from a Provider.
// The protocol is one JSON line each way per connection:
//
//	→ {"cmd":"sources"}
//	← {"result":[{"name":"ntp1.example.net","mode":"^","state":"*",...}]}
//	→ {"cmd":"frobnicate"}
//	← {"error":"unknown command \"frobnicate\" (want sources, sourcestats, tracking, clients, ...)"}
//
// The commands are sources and sourcestats (both []SourceReport), tracking
// (TrackingReport), clients ([]ClientReport), activity (ActivityReport),
// serverstats (ServerStats), ntpdata ([]NTPDataReport), history
// ([]upstream.HistoryPoint, the clock's last 24 hours, for the status
// page), and the three that act: reload, makestep and burst (with
// BurstArgs, sent by RequestArgs). A client calls Request and prints with
// FormatSources, FormatSourceStats, FormatTracking, FormatClients,
// FormatActivity, FormatServerStats or FormatNTPData:
//
//	var srcs []upstream.SourceReport
//	if err := control.Request(ctx, control.SocketPath(cfg), "sources", &srcs); err != nil {
//		return err // cannot reach ntpbox at /run/ntpbox/ntpbox.sock: is `ntpbox serve` running? (...)
//	}
//	control.FormatSources(os.Stdout, srcs, false)
//
// which prints
//
//	MS Name/IP address         Stratum Poll Reach LastRx Last sample
//	===============================================================================
//	^* ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms
//	^? 2001:db8:1234:5678:9abc:>     0   6     0     -     +0ns[   +0ns] +/-    0ns
//
// testdata/chronyc holds real chronyc 4.3 output that the formatters are
// tested against byte for byte.
//
// The same reports also answer the real chronyc over chrony's own
// protocol, on UDP port 323: see package control/cmdmon.
package control
