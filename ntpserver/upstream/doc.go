// Package upstream is the client half of NTP: it polls the configured
// servers, filters their samples, rejects falsetickers, combines the
// truechimers, disciplines the system clock and says what the NTP server
// should serve. It speaks chrony's language: `server`, `pool`,
// `minsources`, `makestep`, `maxchange`, `local` and `rtcsync` mean what
// they mean in chrony.conf(5), and the reports fill chronyc's `sources`,
// `sourcestats` and `tracking` columns.
//
// The Engine does no I/O and never reads time.Now: the runner owns the
// sockets and passes clock readings in. Name resolution is the runner's
// job too (AddSource takes addresses; Unreachable says which ones to
// re-resolve). That keeps the engine testable in simulated time
// (package clocktest runs a day in a few milliseconds).
//
// # Running it
//
// The runner serialises all calls. A sketch of its loop:
//
//	eng := upstream.NewEngine(cfg, clk, log)
//	id := eng.AddSource("ntp1.example.net", addr, src) // for each resolved address
//	for {
//		id, at, ok := eng.NextPoll()
//		// wait until clk reads at, or until a reply arrives:
//		//   n := eng.Transmit(id, clk.Now(), buf); conn.WriteTo(buf[:n], addr)
//		//   eng.Receive(id, reply, rxTimestamp, localAddr) // ntpserver.ReadWithTimestamp
//		srv.SetState(eng.SyncState()) // after every call, and at least every few seconds
//		if err := eng.Err(); err != nil {
//			// maxchange gave up: log, stop (chronyd exits)
//		}
//		for _, id := range eng.Refused() {
//			// a pool member sent DENY/RSTR: RemoveSource(id), AddSource(another address)
//		}
//		for _, id := range eng.Unreachable() {
//			// re-resolve, at most once per random wait: RemoveSource(id), AddSource(...)
//		}
//	}
//
// # How it works
//
// Polling follows chrony: iburst sends up to 8 requests 2 s apart until 4
// good samples; the poll interval moves between minpoll and maxpoll so
// that each source's regression holds about 8 samples, shortens when new
// samples stop fitting the prediction, and backs off while replies are
// missing; an 8-bit reachability register records the last 8 polls. A
// RATE kiss-o'-death raises the poll and backs off; DENY and RSTR stop
// polling the source. Requests carry a random transmit timestamp, and a
// reply must echo it (RFC 5905 test 2); at most one reply per request is
// accepted.
//
// Each source keeps chrony-style statistics: a weighted linear
// regression of offset against time (weights favour the samples with
// the shortest round trip), whose window a runs test shortens when the
// clock's frequency wandered, plus chrony's delay test against queueing
// noise. Every sample that passes the tests goes into the regression, as
// in chrony, so that no source is ever stuck after its frequency (or
// ours) changed. Samples are kept on the "cooked" clock, the engine's
// best estimate of true time, and re-expressed after every correction.
//
// A reply that shows a synchronisation loop gives no sample (chrony's
// test D, checked while the box serves, Config.Serving): its reference
// ID is our own address towards the source (the reply's destination,
// which the runner passes to Receive), so the source is synchronised to
// us; or it carries exactly our stratum, reference ID, root delay and
// reference time, so it is us. The source stays reachable, its report
// says SyncLoop, and the first loop of each source is logged.
//
// Selection is RFC 5905 §11.2.1 in chrony's form: every source offers the
// interval offset ± root distance; the region covered by the most
// intervals must be covered by a majority (or by the `trust` sources);
// sources that do not agree with it are falsetickers ('x'). `minsources`,
// `require`, `noselect` and `prefer` apply as in chrony. The best
// survivor by root distance and stratum is the system peer ('*'); the
// survivors whose distance and frequency are close to it are combined
// ('+'), weighted by 1/distance for the offset and 1/skew² for the
// frequency. The clock is updated when the system peer has a new sample;
// package discipline turns the combined estimate into steps and
// frequency changes. Leap seconds announced by a majority of the
// survivors are served and handed to the kernel on 30 June or
// 31 December.
//
// The served state follows RFC 5905: stratum one more than the system
// peer's, its address as reference ID (IPv6: the first four octets of
// its MD5), the last update as reference time, root delay = the peer's
// root delay + our round trip, root dispersion = the peer's + our
// dispersion + jitter + the last correction. The server grows the
// dispersion by 15 µs per second since then.
//
// Offsets in reports use chronyc's sign: positive means the local clock
// is ahead. Frequencies for the drift file use chrony's: positive means
// the uncorrected clock runs fast.
//
// # The local reference: what `local` means and what to write
//
// `local stratum N [orphan] [distance D] [activate A]` lets ntpbox keep
// serving when no upstream source is usable, as chrony does: the served
// state becomes stratum N, reference ID 127.127.1.1 (LOCL), no root
// delay, a root dispersion of the clock's precision, and a reference time
// that follows the clock. It activates, per chrony's rules, when
//
//   - the box is synchronised but its root distance (root delay / 2 +
//     root dispersion, which grows by 15 µs every second without an
//     update) has reached D (default 1 s) and, with waitsynced S, at
//     least S seconds have passed since the last update; or
//   - the box is not synchronised (no selectable source: all unreachable
//     for 8 polls, no majority, fewer than minsources) and has been so
//     for waitunsynced seconds (default 300 with orphan, else 0);
//     since 2.0 chrony stays synchronised, its distance growing, in all
//     these cases but no majority; ntpbox turns unsynchronised, as chrony
//     1.x did;
//
// and, with activate A, only after the root distance was once below A,
// i.e. only on a box that was really synchronised at least once.
//
// Why `local stratum 3` is risky. A stratum says how far a server is from
// a reference clock, and clients prefer lower strata. A box that lost its
// upstream (or never had one: no RTC battery, no network at boot) and
// serves its free-running clock at stratum 3 looks exactly as good as a
// box synchronised to a stratum-2 server: clients cannot tell, and they
// will happily follow a clock that may be seconds or days off. Two boxes
// both configured `local stratum 3` that lose upstream each claim stratum
// 3 and drift apart silently; a client polling both sees two equally
// good servers that disagree, and with only two it cannot even tell which
// one is wrong.
//
// What to write instead:
//
//	local stratum 10 orphan
//
// Stratum 10 is far above anything real on a LAN, so clients (and other
// servers) prefer any genuinely synchronised source, and a client of the
// box can see that it is running on its own. With `orphan`, two or more
// boxes that poll each other (each lists the others as `server`) agree on
// one of them by chrony's rule: sources at stratum 10 or above are set
// aside, and with nothing else selectable the one at stratum 10 with the
// smallest address is followed if its address is below ours towards it
// (the destination of its replies). So the box with the smallest address
// serves its local clock at stratum 10, the others synchronise to it
// (stratum 11), and clients see one time, not several.
//
// How soon that happens after the upstream dies is chrony's timing too,
// and it is slow with the defaults: each box keeps its dead upstream
// selected while the other box is reachable (an unreachable source stays
// selectable while its newest sample is not older than the oldest of a
// reachable one), one box soon follows the other (one stratum above it;
// the sync-loop check keeps the other from following back), and the
// local reference takes over only when the root distance reaches
// `distance` (1 s), about 18.5 hours at 15 µs/s. Both boxes serve the
// same time meanwhile. For a fail-over within minutes, make the local
// reference take over a fixed time after the last clock update:
//
//	local stratum 10 orphan distance 0 waitsynced 60 waitunsynced 30
//
// waitsynced must exceed the longest poll interval (here maxpoll 2, 4 s;
// with the default maxpoll 10 it would have to exceed 1024 s). In
// simulation (TestOrphanFailover) two boxes polling each other and the
// upstream every 1–4 s settle within 4 minutes.
//
// For a single box, `local stratum 10 distance 0.1` serves as a
// synchronised server through short outages, its root distance growing
// honestly, then switches to stratum 10 with reference ID LOCL, which
// clients can see; add `activate 0.1` so that a box that has never been
// synchronised never serves its local clock.
//
// ntpbox adds one rule of its own: a box configured with upstream
// sources that has not been synchronised to them at least once serves
// its local reference at stratum 10 or higher, whatever N says — a box
// that has never seen real time must not claim a low stratum. A box with
// no server or pool line at all serves `local stratum N` at N from the
// start, as chrony does: its own clock is then the intended reference.
package upstream
