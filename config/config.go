package config

import "net/netip"

// Defaults, as in chrony 4.3 unless noted.
const (
	DefaultPort           = 123    // `port`
	DefaultCmdPort        = 323    // `cmdport`
	DefaultClientLogLimit = 524288 // `clientloglimit`, bytes
	DefaultMinSources     = 1      // `minsources`

	DefaultMinPoll    = 6  // source `minpoll`
	DefaultMaxPoll    = 10 // source `maxpoll`
	DefaultMaxSources = 4  // pool `maxsources`

	DefaultLocalStratum = 10 // `local stratum`

	// Source options (chrony 4.3's srcparams.h).
	DefaultMaxDelay         = 3.0 // source `maxdelay`, seconds
	DefaultMaxDelayDevRatio = 10  // source `maxdelaydevratio`
	DefaultPollTarget       = 8   // source `polltarget`
	DefaultVersion          = 4   // source `version`

	// DefaultAsymmetry is chrony's default of the source `asymmetry`
	// option: any value outside -0.5..0.5 means "estimate the asymmetry
	// from the measurements", and chrony uses 1.0 to say so.
	DefaultAsymmetry = 1.0

	// DefaultPresend is chrony's default of the source `presend` option:
	// a presend is sent when the polling interval is >= 2^Presend s, and
	// 100 is above every polling interval (-7..24), so never. 0 is not
	// "off": `presend 0` presends whenever the interval is >= 1 s.
	DefaultPresend = 100
)

// Config is a parsed, validated ntpbox config file.
//
// Every field is within the range documented on it; Parse never returns a
// Config that is not.
type Config struct {
	Access         []AccessRule // allow/deny lines in file order
	Local          *Local       // nil when there is no `local` directive
	Port           int          // `port` 0..65535, default 123; 0 disables the NTP server port
	BindAddresses  []netip.Addr // `bindaddress`, in file order, no zones; chrony allows one IPv4 and one IPv6, we accept several, each at most once
	RateLimit      *RateLimit   // nil when there is no `ratelimit` directive (rate limiting off, as in chrony)
	ClientLogLimit int          // `clientloglimit` in bytes, 0..2147483647, default 524288
	NoClientLog    bool         // `noclientlog`; cannot be combined with `ratelimit` (as in chrony)
	Sources        []Source     // `server` and `pool` lines in order
	MakeStep       *MakeStep    // nil when absent
	DriftFile      string       // `driftfile`, "" when absent
	RTCSync        bool         // `rtcsync`
	MinSources     int          // `minsources` 1..2147483647, default 1
	MaxChange      *MaxChange   // nil when absent
	BindCmdAddress string       // `bindcmdaddress PATH`: an absolute path of the unix control socket ("/" disables it); default ""
	BindCmdIPv4    netip.Addr   // `bindcmdaddress` with an IPv4 address: where the command port listens; the zero Addr for the default
	BindCmdIPv6    netip.Addr   // `bindcmdaddress` with an IPv6 address (an IPv4-mapped one included), no zone; likewise
	CmdPort        int          // `cmdport` 0..65535, default 323; 0 disables the UDP command port
	CmdAccess      []AccessRule // cmdallow/cmddeny lines in file order; 127.0.0.1 and ::1 are allowed whatever they say
	PidFile        string       // `pidfile`, "" when absent; "/" disables the PID file (as in chrony)
	Tuning         Tuning       // chrony's selection and clock directives; defaults from DefaultTuning()

	// ntpbox's discovery directives (not chrony's).
	Advertise []netip.Addr // `advertise`: servers announced by DHCP and DNS, unique, no zones; empty means the box's own address
	DHCP      *DHCP        // `dhcp`; nil when absent (off)
	DHCP6     *DHCP6       // `dhcp6`; nil when absent (off)
	DNSZone   string       // `dns zone NAME`, lower case without the final dot; "" when absent
	// MDNS is `mdns` (or `mdns on`): answer mDNS for the box's host name
	// as HOST.local and announce its services with DNS-SD; `mdns off`
	// or absent: off (the appliance's defaults turn it on).
	MDNS bool
	// LogServer is `logserver HOST[:PORT]` (RFC 5424 syslog over UDP,
	// port 514 by default) or "auto" (the log server of the DHCP lease,
	// option 7); "" when absent (off).
	LogServer string
	// HTTP is `http`: the status page and /metrics; nil when absent or
	// `http off` (the appliance's defaults give `http lan`).
	HTTP *HTTP

	// The appliance's network directives (address, gateway, nameserver,
	// interface, hostname); `ntpbox serve` on a host ignores them.
	Network Network

	// Lease is what the box's DHCP lease gave, when it has one (see
	// Merge). Its NTP servers are among Sources, with LayerLease origins.
	Lease *Lease `json:",omitempty"`

	// Origins records where each setting came from, keyed by directive
	// ("port", "local", ...) and, for the values of a repeatable
	// directive that are plain addresses, by directive and value
	// ("advertise 198.18.0.2"). Sources and access rules carry their own
	// Origin. A setting with no entry has its default.
	Origins map[string]Origin `json:",omitempty"`
}

// setOrigin records where directive name was last set.
func (c *Config) setOrigin(name string, o Origin) {
	if c.Origins == nil {
		c.Origins = map[string]Origin{}
	}
	c.Origins[name] = o
}

// OriginOf returns where the setting came from, and false for a default.
func (c *Config) OriginOf(key string) (Origin, bool) {
	o, ok := c.Origins[key]
	return o, ok
}

// AccessRule is one `allow` or `deny` line, or `cmdallow` or `cmddeny`.
type AccessRule struct {
	Origin Origin
	Allow  bool         // allow or deny
	All    bool         // the `allow all` / `deny all` form, which overrides earlier rules for subnets inside it
	Prefix netip.Prefix // masked, no zone; the zero Prefix when Any or Connected is set
	Any    bool         // rule covers every address, IPv4 and IPv6 (plain `allow` / `allow all`)
	// Connected is `allow connected` / `deny connected` (ntpbox's own): the
	// subnets of the box's interfaces, as they are at the time a request
	// comes, not as they were when the config was read.
	Connected bool `json:",omitempty"`
}

// Local is the `local` directive: serve time as if synchronised when no
// source is usable.
type Local struct {
	Stratum      int     // 1..15, default 10
	Orphan       bool    // ntpd-compatible orphan mode
	Distance     float64 // root distance that activates the local reference, >= 0, default 1.0
	Activate     float64 // activating root distance, >= 0, default 0 (none); added after chrony 4.3
	WaitSynced   float64 // seconds between the last clock update and activation, >= 0, default 0; added after chrony 4.3
	WaitUnsynced float64 // seconds to wait before activating while unsynchronised, >= 0, or -1 (the default) meaning chrony's default: 300 with Orphan, else 0; added after chrony 4.3
}

// EffectiveWaitUnsynced resolves the -1 default of WaitUnsynced as chrony
// does: 300 seconds in orphan mode, otherwise 0.
func (l *Local) EffectiveWaitUnsynced() float64 {
	if l.WaitUnsynced >= 0 {
		return l.WaitUnsynced
	}
	if l.Orphan {
		return 300
	}
	return 0
}

// RateLimit is the `ratelimit` directive. A repeated `ratelimit` line
// changes only the options it names, as in chrony.
type RateLimit struct {
	Interval int // minimum interval between responses, log2 seconds, -19..12, default 3
	Burst    int // responses allowed in a burst, 1..255, default 8
	Leak     int // 1/2^Leak of limited requests still get a response, 1..4, default 2
	KoD      int // 1/2^KoD of limited requests get a RATE kiss-o'-death, 0..4, default 0 (off); added after chrony 4.3
}

// DefaultRateLimit returns the values `ratelimit` with no options enables.
func DefaultRateLimit() RateLimit {
	return RateLimit{Interval: 3, Burst: 8, Leak: 2, KoD: 0}
}

// Source is one `server` or `pool` line.
type Source struct {
	Origin   Origin
	Pool     bool   // pool vs server
	Host     string // hostname or IP address, kept as written
	Port     int    // 1..65535, default 123
	IBurst   bool
	Burst    bool
	Prefer   bool
	NoSelect bool
	Trust    bool
	Require  bool
	MinPoll  int // log2 seconds, -7..24, default 6
	MaxPoll  int // log2 seconds, -7..24, default 10, >= MinPoll

	// MaxSources is the number of pool members to use, 1..16, default 4.
	// It is 0 for a server line.
	MaxSources int

	// The measurement options of chrony.conf(5). The parser sets chrony's
	// default in each for every server and pool line.
	MaxDelay         float64 // `maxdelay`: largest round-trip delay of a usable measurement, s, 0..1000, default 3
	MaxDelayRatio    float64 // `maxdelayratio`: largest delay as a multiple of the minimum delay, 0..1e6; 0 (the default) = off
	MaxDelayDevRatio float64 // `maxdelaydevratio`: largest delay increase over the minimum, in standard deviations, 0..1e6, default 10
	MinDelay         float64 // `mindelay`: fixed minimum round-trip delay, s, >= 0; 0 (the default) = off (use the measured minimum)
	// Asymmetry is `asymmetry`, the asymmetry of the network jitter,
	// -0.5..0.5 (negative: the requests' delay varies more than the
	// responses'). The default, DefaultAsymmetry (1.0), is chrony's
	// "estimate it from the measurements"; 0 turns the correction off.
	Asymmetry  float64
	Offset     float64 // `offset`: correction added to the offsets measured, s, any finite number, default 0
	MinStratum int     // `minstratum`: the source's stratum is raised to at least this, 0..16, default 0 (chrony uses at most 15)
	Filter     int     // `filter`: median filter over this many polls, 0..2147483647; 0 (the default) = off
	PollTarget int     // `polltarget`: measurements to keep in the regression, steering the poll between minpoll and maxpoll, 1..2147483647, default 8
	// Presend is `presend`: from a polling interval of 2^Presend s up, an
	// extra request goes 2 s before each measurement, log2 s, -32..32. The
	// default, DefaultPresend (100), is chrony's and means never; 0 is not
	// off.
	Presend int
	// Version is `version`, the NTP version of the requests, 1..4,
	// default 4. (chrony 4.3 defaults to 3 when `key` names a key with a
	// hash longer than 160 bits; `key` is not implemented here.)
	Version    int
	MinSamples int  // `minsamples`: 0..2147483647, or -1 (the default) for Tuning.MinSamples
	MaxSamples int  // `maxsamples`: 0..2147483647 (0 = no configured limit), or -1 (the default) for Tuning.MaxSamples
	XLeave     bool // `xleave`: interleaved mode

	// Options lists, lower-case and without values, the chrony source
	// options that were accepted but are not implemented by ntpbox (e.g.
	// "key", "nts", "copy", "maxdelayquant"). Each also produced a Warning.
	Options []string
}

// Tuning is chrony's source selection and system clock directives. A
// Config from Parse has DefaultTuning's value in each field whose
// directive is absent; every field is within the range documented on it.
// chrony 4.3 itself checks no range here (it clamps some values where it
// uses them); ntpbox rejects values outside the useful range instead.
type Tuning struct {
	MaxDistance   float64 // `maxdistance`: largest root distance of a selectable source, s, >= 0, default 3
	MaxJitter     float64 // `maxjitter`: largest jitter of a selectable source, s, >= 0, default 1
	CombineLimit  float64 // `combinelimit`: sources within this multiple of the selected one's distance are combined, >= 0, default 3; 0 = use the selected source alone
	StratumWeight float64 // `stratumweight`: distance added per stratum in the selection, s, >= 0, default 0.001
	ReselectDist  float64 // `reselectdist`: distance added to the sources not selected, s, >= 0, default 0.0001
	MaxClockError float64 // `maxclockerror`: frequency error the clock can gain on its own, ppm, >= 0, default 1
	MaxDrift      float64 // `maxdrift`: largest frequency correction, ppm, 0..500000, default 500000 (chrony's clamp)
	MaxSlewRate   float64 // `maxslewrate`: largest slew rate, ppm, >= 0, default 1e6/12 (83333.333); the system driver limits it further (100000 on Linux)
	// MaxUpdateSkew is `maxupdateskew`: a frequency estimate with a larger
	// error bound is not used, ppm, >= 0, default 1000. chrony takes the
	// absolute value, so a negative value in the file is stored positive.
	MaxUpdateSkew float64
	// MinSamples is `minsamples`, the default minimum number of samples
	// kept per source, 0..2147483647, default 6. chrony clamps it to
	// 1..the source's maximum when it uses it.
	MinSamples int
	// MaxSamples is `maxsamples`, the default maximum number of samples
	// kept per source, 0..2147483647. The default is chrony's 0: no
	// configured limit, that is the built-in maximum of 64; chrony clamps
	// other values to 1..64 when it uses them.
	MaxSamples     int
	CorrTimeRatio  float64        // `corrtimeratio`: slewing time over the correction interval, >= 0, default 3
	FallbackDrift  *FallbackDrift // `fallbackdrift MIN MAX`; nil when absent, or when a bound is 0 or MAX < MIN (chrony's "no fallback drifts")
	LeapSecTZ      string         // `leapsectz`: a time zone name (such as right/UTC) to read leap seconds from; "" when absent
	ClockPrecision float64        // `clockprecision`: the system clock's precision, s, 0..1; 0 (the default) = measure it at start
}

// FallbackDrift is `fallbackdrift MIN MAX`: fallback drifts over
// intervals of 2^MIN to 2^MAX seconds since the last clock update, with
// 1 <= Min <= Max <= 30.
type FallbackDrift struct{ Min, Max int }

// DefaultTuning returns chrony 4.3's defaults of the Tuning directives.
func DefaultTuning() Tuning {
	return Tuning{
		MaxDistance:   3,
		MaxJitter:     1,
		CombineLimit:  3,
		StratumWeight: 0.001,
		ReselectDist:  1e-4,
		MaxClockError: 1,
		MaxDrift:      500000,
		MaxSlewRate:   1e6 / 12,
		MaxUpdateSkew: 1000,
		MinSamples:    6,
		MaxSamples:    0,
		CorrTimeRatio: 3,
	}
}

// MakeStep is `makestep threshold limit`.
type MakeStep struct {
	Threshold float64 // seconds, >= 0
	Limit     int     // number of clock updates in which a step is allowed, >= 0, or -1 for unlimited (any negative value in the file)
}

// MaxChange is `maxchange offset start ignore`.
type MaxChange struct {
	Offset float64 // seconds, >= 0
	Start  int     // clock updates before the check starts, >= 0
	Ignore int     // large offsets ignored before giving up, >= 0, or -1 to ignore them all and never give up (any negative value in the file)
}

// Default returns a Config with all defaults, no sources and no access rules.
func Default() *Config {
	return &Config{
		Port:           DefaultPort,
		ClientLogLimit: DefaultClientLogLimit,
		MinSources:     DefaultMinSources,
		CmdPort:        DefaultCmdPort,
		Tuning:         DefaultTuning(),
	}
}
