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
	BindCmdAddress string       // `bindcmdaddress`: an absolute path of the unix control socket ("/" disables it) or an IP address in canonical form; default ""
	CmdPort        int          // `cmdport` 0..65535, default 323; 0 disables the UDP command port
	PidFile        string       // `pidfile`, "" when absent; "/" disables the PID file (as in chrony)

	// ntpbox's discovery directives (not chrony's).
	Advertise []netip.Addr // `advertise`: servers announced by DHCP and DNS, unique, no zones; empty means the box's own address
	DHCP      *DHCP        // `dhcp`; nil when absent (off)
	DHCP6     *DHCP6       // `dhcp6`; nil when absent (off)
	DNSZone   string       // `dns zone NAME`, lower case without the final dot; "" when absent

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

// AccessRule is one `allow` or `deny` line.
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

	// Options lists, lower-case and without values, the chrony source
	// options that were accepted but are not implemented by ntpbox (e.g.
	// "key", "nts", "xleave", "maxdelay"). Each also produced a Warning.
	Options []string
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
	}
}
