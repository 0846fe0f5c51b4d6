// Package cmdmon serves chrony's command protocol (cmdmon, UDP port
// 323), read-only, so that the real chronyc works against ntpbox from
// the LAN:
//
//	$ chronyc -h ntpbox.lan -n tracking
//	Reference ID    : C0000201 (192.0.2.1)
//	Stratum         : 3
//	...
//
// The protocol is chrony 4.3's (version 6, candm.h). ntpbox answers
// tracking, sources (-v, and the names of -N), sourcestats, activity,
// serverstats, clients, ntpdata and rtcdata ("513 RTC driver not
// running", as a chronyd without an RTC file), from the reports the
// control socket serves (package control). Every request that would
// change state (burst, makestep, settime, reload, allow, ...) gets "501
// Not authorised", as chronyd answers such requests over UDP; ntpbox
// has no cmdmon unix socket, so they are never carried out. chronyd
// also keeps serverstats, clients and ntpdata for its unix socket;
// ntpbox answers them over UDP, to the hosts cmdallow lets in.
//
// Like chronyd, it drops a request shorter than its padded length would
// need an answer longer than itself, so the port cannot amplify: a reply
// is never longer than its request. Hosts are let in by `cmdallow` and
// `cmddeny` (config.Config.CmdAccess); 127.0.0.1 and ::1 always are.
//
// Client is the other side, chronyc's: `ntpbox -h BOX` asks a box or any
// chronyd with it, and prints the reports it decodes as the local
// commands print theirs.
//
// The layers are those of the NTP server: DecodeRequest and Respond are
// pure functions of the bytes and a Provider; Server adds the access
// table and the counters; Listen opens the sockets of ListenAddrs.
//
//	conns, warnings := cmdmon.Listen(cmdmon.ListenAddrs(cfg))
//	srv := cmdmon.NewServer(provider, ntpserver.NewAccess(cfg.CmdAccess, connected), log)
//	for _, c := range conns {
//		go srv.Serve(c)
//	}
package cmdmon
