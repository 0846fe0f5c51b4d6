package upstream

import (
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// source is one upstream server: polling state, the outstanding request,
// the last packet's header, the sample statistics and the selection
// verdict.
type source struct {
	id    SourceID
	name  string
	addr  netip.AddrPort
	cfg   config.Source
	refID uint32 // of the source's address
	// localAddr is our address towards the source: the destination of
	// its last valid reply (chrony's NTP_Local_Address). Orphan mode
	// and the sync-loop check compare reference IDs with it.
	localAddr netip.Addr

	// Polling.
	poll       int     // log2 s
	pollScore  float64 // fractional poll adjustments (chrony's poll_score)
	kodMinPoll int     // raised by a RATE kiss
	nextPoll   time.Time
	lastTx     time.Time
	burstTotal int // iburst requests left
	burstGood  int // good iburst samples still wanted
	// burstMode: the requests left are chrony's burst mode (iburst, or
	// `ntpbox burst`), not the `burst` option's per-poll burst; chronyc
	// activity counts the source as doing a burst.
	burstMode bool
	// presendDone is 1 from a `presend` request until the request of the
	// measurement goes: the reply in between is not a sample.
	presendDone int
	// filterSamples and filterCount are the `filter` option's samples
	// and the polls counted since the last combined sample (filter.go).
	filterSamples []sample
	filterCount   int
	reach         uint8
	reachSize     int // polls counted into reach, up to 8
	txSinceRx     int // requests since the last valid reply
	stopped       bool
	kiss          string

	// The outstanding request.
	xmt      wire.Time64 // our transmit nonce; 0: none
	t1       time.Time   // system clock when sent
	p1       float64     // cooked minus system clock then
	answered bool
	// il is the interleaved mode's (`xleave`) memory of the last reply.
	il interleaved

	// The last valid packet.
	stratum int
	leap    wire.Leap
	synced  bool    // the last valid packet passed tests 6 and 7
	lastRx  float64 // cooked s of the last good sample; NaN before
	// syncLoop: the last synchronised reply showed the source
	// synchronised to this box, or to be this box (chrony's test D).
	syncLoop   bool
	loopLogged bool
	validRx    int // replies to our requests (chronyc ntpdata: Total valid RX)
	goodRx     int // ... that gave a sample (Total good RX)
	txCount    int // requests sent (Total TX)
	// lastPkt and lastMeas are the last valid reply and the measurement
	// it gave (offset, delay, dispersion; zero when it gave none), for
	// chronyc ntpdata.
	lastPkt  wire.Packet
	lastMeas sample

	stats sourceStats
	// innovation is a moving average of the squared prediction errors of
	// new samples, in units of their expected variance: about 1 while a
	// straight line describes the source, more when the regression
	// window has grown longer than the clock's frequency stays put.
	innovation float64
	// jumped: the newest sample lay far off the regression's prediction
	// (more than jumpZ standard errors, or after a jumped sample any
	// number, and more than twice its own distance): the clock's
	// frequency has changed, and once the jump is confirmed, until a
	// sample agrees with the line again, the source's offset is the
	// newest sample's, not the line's, which still leans on the samples
	// from before (ntpbox's; chrony waits for its runs test).
	jumped bool
	// jumpRun counts consecutive jumped samples of sign jumpSign;
	// jumpOK: the jump is confirmed (see Engine.noteJump).
	jumpRun, jumpSign int
	jumpOK            bool
	// jumpRate is the frequency change the jump shows (s/s): the newest
	// sample's distance from the line over the time since the sample
	// before it, a lower bound.
	jumpRate float64
	updates  int // good samples since the last clock update

	// Selection.
	state        string // chronyc's S column
	sel          selInfo
	orphanWarned bool
}

// selInfo is a source's input to the selection, at the selection's time.
type selInfo struct {
	offset   float64 // s, source minus cooked clock
	sd       float64 // s
	distance float64 // root distance (s)
	iv       interval
	freq     float64 // ppm, source relative to the cooked clock
	skew     float64 // ppm
}

func newSource(id SourceID, name string, addr netip.AddrPort, cfg config.Source, tun *config.Tuning, now time.Time) *source {
	if cfg.Version == 0 {
		// Not from the parser (which always sets a version): chrony's
		// defaults for the measurement options.
		d := config.DefaultSource(cfg.Pool)
		cfg.MaxDelay, cfg.MaxDelayDevRatio, cfg.Asymmetry = d.MaxDelay, d.MaxDelayDevRatio, d.Asymmetry
		cfg.PollTarget, cfg.Presend, cfg.Version = d.PollTarget, d.Presend, d.Version
		cfg.MinSamples, cfg.MaxSamples = d.MinSamples, d.MaxSamples
	}
	s := &source{
		id:       id,
		name:     name,
		addr:     addr,
		cfg:      cfg,
		refID:    RefID(addr.Addr()),
		poll:     cfg.MinPoll,
		nextPoll: now,
		lastRx:   nan(),
		state:    stateUnselectable,
	}
	if cfg.MaxPoll < cfg.MinPoll {
		s.cfg.MaxPoll = cfg.MinPoll
	}
	s.stats.statsParams = sourceStatsParams(&cfg, tun)
	if cfg.IBurst {
		// chrony: 4 good samples, at most 8 requests, 2 s apart.
		s.burstTotal, s.burstGood, s.burstMode = 8, 4, true
	}
	return s
}

// chronyc's state column.
const (
	stateSelected     = "*"
	stateCombined     = "+"
	stateNotCombined  = "-"
	stateUnselectable = "?"
	stateFalseticker  = "x"
	stateJittery      = "~"
)

// sourceStatsParams resolves a source's statistics settings: its own
// minsamples/maxsamples or else the global ones, chrony's clamps (at
// least 1, at most 64, min <= max), maxdelaydevratio, mindelay and
// maxclockerror.
func sourceStatsParams(cfg *config.Source, tun *config.Tuning) statsParams {
	p := defaultStatsParams()
	minS, maxS := cfg.MinSamples, cfg.MaxSamples
	if minS < 0 {
		minS = tun.MinSamples
	}
	if maxS < 0 {
		maxS = tun.MaxSamples
	}
	if maxS > 0 {
		p.maxSamples = min(max(maxS, 1), maxSamples)
	}
	p.minKeep = min(max(minS, 1), p.maxSamples)
	p.devRatio = cfg.MaxDelayDevRatio
	p.fixedMinDelay = cfg.MinDelay
	p.clockError = tun.MaxClockError * 1e-6
	p.asymmetry = cfg.Asymmetry
	return p
}
