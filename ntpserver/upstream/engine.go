package upstream

import (
	"encoding/binary"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/discipline"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Config is what the engine takes from chrony.conf and the command line.
type Config struct {
	MakeStep   *config.MakeStep
	MaxChange  *config.MaxChange
	MinSources int
	Local      *config.Local
	RTCSync    bool
	// InitialFreqPPM is the drift file's frequency, in chrony's
	// convention: positive means the uncorrected clock runs fast (the
	// opposite sign of clock.Clock's correction). 0 if there is none; the
	// engine then starts from the correction the kernel already applies.
	InitialFreqPPM float64
	// ClockControl is false under -x: the engine then never calls Step,
	// SetFrequency or SetStatus, and tracks the clock's error instead of
	// correcting it (the runner also wraps the clock in clock.NoControl).
	ClockControl bool
	Precision    int8 // log2 s, measured by the runner (ntpserver.MeasurePrecision)
	// HasSources tells the engine that the config names upstream sources
	// (server or pool lines), resolved or not. Without any, the local
	// clock is the intended reference and `local stratum N` is served at
	// N from the start, as chrony does.
	HasSources bool
	// Serving says that the NTP server port is open, so that other
	// servers may synchronise to this box. Only then is a reply checked
	// for a synchronisation loop, as chrony checks only with its server
	// socket open (test D; see Receive). SetServing changes it.
	Serving bool
	// Tick, when set, promises that the caller calls Tick at least this
	// often: the servo may then finish a slew before the next poll and
	// re-plan at the next tick, so a box that booted off by a fraction
	// of a second is right within seconds, not at the end of a 64 s
	// poll interval. 0: the servo plans from poll to poll.
	Tick time.Duration
	// Tuning is chrony's selection and clock directives (maxdistance,
	// maxjitter, combinelimit, stratumweight, reselectdist,
	// maxclockerror, maxdrift, maxslewrate, maxupdateskew, minsamples,
	// maxsamples, corrtimeratio). The zero Tuning means
	// config.DefaultTuning(), chrony's defaults.
	Tuning config.Tuning
	// ZoneInfoDir is where `leapsectz` zones are read from; default
	// /usr/share/zoneinfo.
	ZoneInfoDir string
}

// SourceID names a source registered with AddSource.
type SourceID int

// Engine is the client half of NTP: it polls the sources, filters their
// samples, selects and combines the truechimers, disciplines the clock
// and says what the server should serve. It is not safe for concurrent
// use; it never reads time.Now or sleeps: time comes from the clock and
// the arguments.
type Engine struct {
	lastCross time.Time // the last crossCheck
	// The last jumped sample: its source, sign and time (noteJump).
	lastJumpSrc  *source
	lastJumpSign int
	lastJumpAt   time.Time
	cfg          Config
	clk          clock.Clock
	log          *slog.Logger
	servo        *discipline.Servo
	rng          *rand.Rand
	epoch        time.Time // raw clock time 0 of the engine's float64 time axis

	sources []*source
	nextID  SourceID

	selected      *source
	synced        bool // selection succeeded and the clock was updated since
	everSynced    bool
	activated     bool    // `local activate`: the root distance went below it once
	unsyncedSince float64 // cooked seconds
	ref           reference
	prevRef       reference // before the last update (the sync-loop check)
	leap          wire.Leap
	err           error

	lastOffset float64 // s, true minus clock at the last update
	rmsOffset  float64 // s
	interval   float64 // s between the last two updates
	residual   float64 // ppm left unapplied at the last update
	rmsKnown   bool
	leapTZ     leapTable // `leapsectz`; nil without it

	// `fallbackdrift` (fallback.go): the averages, the next one to
	// switch to and when (cooked seconds; +Inf for none).
	fb     []fbDrift
	fbNext int
	fbAt   float64

	hist history // the clock's last 24 hours (history.go)

	// wander is the largest frequency jump of our own oscillator learnt
	// (ppm), and wanderT the cooked time of it: see wanderAt. While
	// jumpPending, learnJump waits for the frequency after a jump first
	// seen at cooked time jumpAt, from frequency jumpFreq (ppm).
	wander, wanderT  float64
	jumpPending      bool
	jumpFreq, jumpAt float64
}

// reference is what the last clock update said about our clock.
type reference struct {
	raw       time.Time // system clock at the update (after any step)
	served    time.Time // the served reference time: the cooked time of the update
	at        float64   // cooked seconds
	stratum   int       // of the selected source
	refID     uint32
	name      string
	rootDelay float64 // s
	rootDisp  float64 // s, at raw
}

// NewEngine returns an engine with no sources. It reads the clock's
// frequency and, with clock control, sets the starting frequency (from
// the drift file when there is one) and an unsynchronised kernel status.
func NewEngine(cfg Config, clk clock.Clock, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinSources < 1 {
		cfg.MinSources = 1
	}
	// The request nonces must be unpredictable, but the engine must not
	// wait for the kernel's random pool: on a PC without RDRAND or an
	// RNG device, crypto/rand blocks for minutes after boot. The runtime
	// seeds math/rand/v2 from the kernel's AT_RANDOM bytes, which never
	// block.
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], rand.Uint64())
	}
	e := &Engine{
		cfg:    cfg,
		clk:    clk,
		log:    log,
		rng:    rand.New(rand.NewChaCha8(seed)),
		epoch:  clk.Now().Round(0),
		nextID: 1,
		fbAt:   math.Inf(1),
	}
	if cfg.Tuning == (config.Tuning{}) {
		cfg.Tuning = config.DefaultTuning()
		e.cfg.Tuning = cfg.Tuning
	}
	tun := &cfg.Tuning
	if tun.LeapSecTZ != "" {
		t, err := loadLeapTZ(cfg.ZoneInfoDir, tun.LeapSecTZ)
		if err != nil {
			log.Warn("leapsectz: leap seconds come only from the sources", "err", err)
		} else {
			last := time.Unix(t[len(t)-1].end, 0).UTC()
			log.Info("leapsectz: leap seconds from the time zone database", "zone", tun.LeapSecTZ, "leaps", len(t), "last", last.Format(time.DateOnly))
			e.leapTZ = t
		}
	}
	kernel, err := clk.Frequency()
	if err != nil {
		log.Warn("cannot read the clock frequency; assuming 0 ppm", "err", err)
		kernel = 0
	}
	dc := discipline.Config{
		Control:          cfg.ClockControl,
		KernelFrequency:  kernel,
		InitialFrequency: kernel,
		StepLimit:        0,
		MaxUpdateSkew:    tun.MaxUpdateSkew,
		CorrTimeRatio:    tun.CorrTimeRatio,
		// maxdrift bounds the frequency; the kernel's 500 ppm bounds it
		// further (the servo's default).
		MaxFrequency: min(tun.MaxDrift, clock.MaxFrequency),
		// maxslewrate bounds frequency plus slew; the clock's own limit
		// (500 ppm, or a FastSlewer's) bounds it further.
		MaxSlewRate: min(tun.MaxSlewRate, clock.MaxFrequency),
	}
	if fs, ok := clk.(clock.FastSlewer); ok && cfg.ClockControl {
		dc.MaxSlewRate = min(fs.MaxSlewRate(), tun.MaxSlewRate)
	}
	if cfg.InitialFreqPPM != 0 {
		dc.InitialFrequency = -cfg.InitialFreqPPM
		dc.InitialSkew = 5 // a drift file is usually good to a few ppm
	}
	if ms := cfg.MakeStep; ms != nil {
		dc.StepThreshold, dc.StepLimit = ms.Threshold, ms.Limit
	}
	if mc := cfg.MaxChange; mc != nil {
		dc.MaxChange = &discipline.MaxChange{Offset: mc.Offset, Start: mc.Start, Ignore: mc.Ignore}
	}
	e.servo = discipline.New(dc, e.epoch)
	if cfg.ClockControl {
		if err := clk.SetFrequency(dc.InitialFrequency); err != nil {
			log.Error("set clock frequency", "err", err)
		}
		e.pushStatus()
	}
	return e
}

// sec converts a system clock reading to seconds on the engine's axis.
func (e *Engine) sec(t time.Time) float64 { return t.Sub(e.epoch).Seconds() }

// cooked converts a system clock reading to the engine's best estimate
// of true time, in seconds on the engine's axis.
func (e *Engine) cooked(t time.Time) float64 { return e.sec(t) + e.servo.Pending(t) }

func (e *Engine) source(id SourceID) *source {
	for _, s := range e.sources {
		if s.id == id {
			return s
		}
	}
	return nil
}

// AddSource registers one resolved address for a configured server or
// pool line. name is what the user wrote (for pool members: the member's
// address string). It returns the source's id; the first poll is due
// now.
func (e *Engine) AddSource(name string, addr netip.AddrPort, src config.Source) SourceID {
	id := e.nextID
	e.nextID++
	s := newSource(id, name, addr, src, &e.cfg.Tuning, e.clk.Now().Round(0))
	e.sources = append(e.sources, s)
	e.log.Info("source added", "source", name, "addr", addr.String(), "id", int(id))
	return id
}

// RemoveSource forgets a source. If it was the selected one, the engine
// selects again (without updating the clock).
func (e *Engine) RemoveSource(id SourceID) {
	for i, s := range e.sources {
		if s.id != id {
			continue
		}
		e.sources = append(e.sources[:i], e.sources[i+1:]...)
		e.log.Info("source removed", "source", s.name, "id", int(id))
		if e.selected == s {
			e.selected = nil
		}
		now := e.clk.Now().Round(0)
		e.reselect(now, e.cooked(now), nil)
		e.advance(now)
		return
	}
}

// SetServing tells the engine whether the NTP server port is open now
// (see Config.Serving): the runner calls it when the server starts or
// stops listening.
func (e *Engine) SetServing(open bool) { e.cfg.Serving = open }

// Err returns a non-nil error once the engine has given up (maxchange).
// It then no longer adjusts the clock and serves an unsynchronised
// state; the runner decides what to do (chronyd exits).
func (e *Engine) Err() error { return e.err }

// Frequency returns the clock's frequency error for the drift file, in
// ppm, in chrony's convention (positive: the uncorrected clock runs
// fast), the counterpart of Config.InitialFreqPPM.
func (e *Engine) Frequency() float64 { return -e.servo.Frequency() }

// Tick re-plans the slew at system clock time now; see Config.Tick.
func (e *Engine) Tick(now time.Time) {
	e.advance(now.Round(0))
}

// nextEvent returns the earliest scheduled poll or tick, or a day from
// now.
func (e *Engine) nextEvent(now time.Time) time.Time {
	next := now.Add(24 * time.Hour)
	if e.cfg.Tick > 0 {
		next = now.Add(e.cfg.Tick)
	}
	for _, s := range e.sources {
		if !s.stopped && s.nextPoll.Before(next) {
			next = s.nextPoll
		}
	}
	return next
}

// advance lets the servo re-plan its slew at system clock time now, or
// later: at the time the new rate really reaches the kernel.
func (e *Engine) advance(now time.Time) {
	if e.err != nil {
		return
	}
	now = e.applyTime(now)
	e.fbCheck(now)
	a := e.servo.Advance(now, e.nextEvent(now))
	e.apply(a)
}

// applyTime is when a servo decision about an event at raw takes effect:
// now, which may be well after a packet's receive timestamp on a busy
// machine. The servo must count the old rate until then, or a fast slew
// (up to 83333 ppm) leaves the cooked clock off by the rate times the
// delay.
func (e *Engine) applyTime(raw time.Time) time.Time {
	if now := e.clk.Now().Round(0); now.After(raw) {
		return now
	}
	return raw
}

// StopSlew returns the clock to its base frequency: call it when the
// daemon stops, so that no fast slew keeps running in the kernel.
func (e *Engine) StopSlew() {
	e.apply(e.servo.StopSlew(e.clk.Now()))
}

// apply carries out the clock part of a servo action.
func (e *Engine) apply(a discipline.Action) {
	if !e.cfg.ClockControl {
		return
	}
	if a.Step != 0 {
		if err := e.clk.Step(a.Step); err != nil {
			e.log.Error("step clock", "step", a.Step, "err", err)
		}
	}
	if a.SetFreq {
		if err := e.clk.SetFrequency(a.Frequency); err != nil {
			e.log.Error("set clock frequency", "ppm", a.Frequency, "err", err)
		}
	}
}

// nonce returns a random, non-zero transmit timestamp for a request.
// Client requests carry no clock reading (RFC 9109 style data
// minimisation): the origin check only needs the value to be
// unpredictable.
func (e *Engine) nonce() wire.Time64 {
	for {
		if v := e.rng.Uint64(); v != 0 {
			return wire.Time64(v)
		}
	}
}

func durationOf(sec float64) time.Duration {
	if math.IsNaN(sec) {
		return 0
	}
	if math.Abs(sec) > math.MaxInt64/1e9 {
		return time.Duration(math.Copysign(math.MaxInt64, sec))
	}
	return time.Duration(math.Round(sec * 1e9))
}
