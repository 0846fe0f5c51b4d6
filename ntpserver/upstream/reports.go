package upstream

import (
	"net/netip"
	"time"
)

// The engine's reports: what `ntpbox sources`, `sourcestats` and
// `tracking` print, as plain JSON-encodable values with the content of
// chronyc's columns. The control package formats and serves them.

// SourceReport is one upstream source: a line of `sources` and of
// `sourcestats`.
type SourceReport struct {
	Name string         `json:"name"` // as configured (hostname, or the pool name's member address)
	Addr netip.AddrPort `json:"addr"` // resolved address; zero if unresolved
	// Mode is chronyc's first column: '^' server, '=' peer, '#' local clock.
	Mode string `json:"mode"`
	// State is chronyc's second column: '*' synchronised to, '+' combined,
	// '-' not combined, '?' unreachable, 'x' falseticker, '~' too variable.
	State   string `json:"state"`
	Stratum int    `json:"stratum"`
	Poll    int    `json:"poll"`  // log2 seconds
	Reach   uint8  `json:"reach"` // 8-bit reachability register (printed in octal)
	// LastRx is how long ago the last good sample was received; negative
	// when there has been none.
	LastRx time.Duration `json:"last_rx"`
	// The last sample: offset adjusted for later clock corrections,
	// offset as measured, and the error bound (+/-).
	AdjustedOffset time.Duration `json:"adjusted_offset"`
	MeasuredOffset time.Duration `json:"measured_offset"`
	ErrorBound     time.Duration `json:"error_bound"`

	// sourcestats columns.
	NP         int           `json:"np"`         // samples retained
	NR         int           `json:"nr"`         // runs of residuals of one sign
	Span       time.Duration `json:"span"`       // from oldest to newest sample
	Frequency  float64       `json:"frequency"`  // ppm, estimated residual frequency
	FreqSkew   float64       `json:"freq_skew"`  // ppm, error bound of Frequency
	Offset     time.Duration `json:"offset"`     // estimated offset of the source
	OffsetErr  time.Duration `json:"offset_err"` // error bound of Offset (chrony's est_offset_err)
	StdDev     time.Duration `json:"std_dev"`    // of the samples
	KissCode   string        `json:"kiss_code"`  // last Kiss-o'-Death received, if any
	Selectable bool          `json:"selectable"` // false for noselect, DENY/RSTR, unresolved
	// Burst: the source is polled in a burst (`ntpbox burst`); chronyc
	// activity counts it as "doing burst (return to online)".
	Burst bool `json:"burst"`

	// ntpdata fields. LocalAddr is our address towards the source (the
	// destination of its last reply; zero if unknown): in orphan mode
	// the source is followed only if its address is below this one.
	LocalAddr netip.Addr `json:"local_addr"`
	// SyncLoop is chronyc ntpdata's test D failing: the source's last
	// reply showed it synchronised to this box (its reference ID is
	// LocalAddr) or to be this box, so its replies give no samples.
	// The source stays reachable; its samples age until it drops out of
	// the selection.
	SyncLoop bool `json:"sync_loop"`
	ValidRx  int  `json:"valid_rx"` // replies to our requests ("Total valid RX")
	GoodRx   int  `json:"good_rx"`  // ... that gave a sample ("Total good RX")
	// NTP is the rest of chronyc ntpdata: the source's last valid reply.
	NTP NTPData `json:"ntp"`
}

// NTPData is what `chronyc ntpdata` shows of a source's last valid
// reply, and how many requests were sent to it. All zero before the
// first reply.
type NTPData struct {
	Leap           int           `json:"leap"` // 0..3 as in the packet
	Version        int           `json:"version"`
	Mode           int           `json:"mode"`
	Stratum        int           `json:"stratum"`
	Poll           int           `json:"poll"`      // the server's, log2 s
	Precision      int           `json:"precision"` // log2 s
	RootDelay      time.Duration `json:"root_delay"`
	RootDispersion time.Duration `json:"root_dispersion"`
	RefID          uint32        `json:"ref_id"`
	RefTime        time.Time     `json:"ref_time"`
	// The measurement the reply gave (before the sample filters).
	// Offset is positive when the source is ahead of the local clock:
	// chronyd's sign in ntpdata, the opposite of the sources column's.
	Offset       time.Duration `json:"offset"`
	Delay        time.Duration `json:"delay"`
	Dispersion   time.Duration `json:"dispersion"`
	ResponseTime time.Duration `json:"response_time"` // the server's transmit minus receive time
	Interleaved  bool          `json:"interleaved"`   // the reply was in interleaved mode (`xleave`)
	TotalTx      int           `json:"total_tx"`      // requests sent ("Total TX")
}

// TrackingReport is `tracking`: the state of the system clock.
type TrackingReport struct {
	RefID          uint32        `json:"ref_id"`
	RefName        string        `json:"ref_name"` // address or name of the reference
	Stratum        int           `json:"stratum"`
	RefTime        time.Time     `json:"ref_time"`    // UTC of the last clock update
	SystemTime     time.Duration `json:"system_time"` // positive: the system clock is fast of NTP time
	LastOffset     time.Duration `json:"last_offset"`
	RMSOffset      time.Duration `json:"rms_offset"`
	Frequency      float64       `json:"frequency"` // ppm; positive: the clock would run fast uncorrected
	ResidualFreq   float64       `json:"residual_freq"`
	Skew           float64       `json:"skew"`
	RootDelay      time.Duration `json:"root_delay"`
	RootDispersion time.Duration `json:"root_dispersion"`
	UpdateInterval time.Duration `json:"update_interval"`
	Leap           string        `json:"leap"`          // "Normal", "Insert second", "Delete second", "Not synchronised"
	ClockControl   bool          `json:"clock_control"` // false under -x
	// RememberedJump is the frequency jump of our own oscillator that the
	// served bound still allows for (ppm, decaying over hours): the root
	// dispersion grows faster by this much until it fades. 0 when none
	// is remembered, when the box is not synchronised to a source, and
	// in a report read over chrony's command port, which has no field
	// for it. Not in chronyc's report: tracking prints it, and the JSON
	// has it, only when it is not 0.
	RememberedJump float64 `json:"remembered_jump,omitempty"`
}
