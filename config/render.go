package config

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Render writes c as a config file that Parse accepts, one directive a
// line, each followed by a comment saying where it came from: `ntpbox
// config` prints it. Settings left at their defaults are shown where the
// default matters (port, cmdport, clientloglimit, minsources); absent
// optional ones, and the Tuning directives and source options at their
// defaults, are left out. A DHCP lease is shown as comments, and its
// NTP servers as the server lines they became.
func (c *Config) Render(w io.Writer) error {
	r := &renderer{w: w}
	n := c.Network
	r.line(n.Interface != "", c.Origins["interface"], "interface", n.Interface)
	r.line(n.Hostname != "", c.Origins["hostname"], "hostname", n.Hostname)
	r.line(n.DHCP, c.Origins["address"], "address", "dhcp")
	for _, a := range n.Addresses {
		r.line(true, c.Origins["address "+a.String()], "address", a.String())
	}
	r.line(n.Gateway.IsValid(), c.Origins["gateway"], "gateway", n.Gateway.String())
	for _, a := range n.Nameservers {
		r.line(true, c.Origins["nameserver "+a.String()], "nameserver", a.String())
	}
	for _, s := range c.Sources {
		r.source(s)
	}
	for _, a := range c.Access {
		r.access(a, "")
	}
	if l := c.Local; l != nil {
		r.line(true, c.Origins["local"], "local", localArgs(l)...)
	}
	if m := c.MakeStep; m != nil {
		r.line(true, c.Origins["makestep"], "makestep", ftoa(m.Threshold), strconv.Itoa(m.Limit))
	}
	if m := c.MaxChange; m != nil {
		r.line(true, c.Origins["maxchange"], "maxchange", ftoa(m.Offset), strconv.Itoa(m.Start), strconv.Itoa(m.Ignore))
	}
	r.line(true, c.Origins["minsources"], "minsources", strconv.Itoa(c.MinSources))
	for _, words := range c.Tuning.lines() {
		r.line(true, c.Origins[words[0]], words[0], words[1:]...)
	}
	r.line(c.DriftFile != "", c.Origins["driftfile"], "driftfile", c.DriftFile)
	r.line(c.RTCSync, c.Origins["rtcsync"], "rtcsync")
	r.line(true, c.Origins["port"], "port", strconv.Itoa(c.Port))
	for _, a := range c.BindAddresses {
		r.line(true, c.Origins["bindaddress "+a.String()], "bindaddress", a.String())
	}
	if rl := c.RateLimit; rl != nil {
		r.line(true, c.Origins["ratelimit"], "ratelimit", "interval", strconv.Itoa(rl.Interval), "burst", strconv.Itoa(rl.Burst),
			"leak", strconv.Itoa(rl.Leak), "kod", strconv.Itoa(rl.KoD))
	}
	r.line(true, c.Origins["clientloglimit"], "clientloglimit", strconv.Itoa(c.ClientLogLimit))
	r.line(c.NoClientLog, c.Origins["noclientlog"], "noclientlog")
	r.line(c.BindCmdAddress != "", c.Origins["bindcmdaddress path"], "bindcmdaddress", c.BindCmdAddress)
	r.line(c.BindCmdIPv4.IsValid(), c.Origins["bindcmdaddress ipv4"], "bindcmdaddress", c.BindCmdIPv4.String())
	r.line(c.BindCmdIPv6.IsValid(), c.Origins["bindcmdaddress ipv6"], "bindcmdaddress", c.BindCmdIPv6.String())
	for _, a := range c.CmdAccess {
		r.access(a, "cmd")
	}
	r.line(true, c.Origins["cmdport"], "cmdport", strconv.Itoa(c.CmdPort))
	r.line(c.PidFile != "", c.Origins["pidfile"], "pidfile", c.PidFile)
	if len(c.Advertise) > 0 {
		r.line(true, c.Origins["advertise"], "advertise", addrStrings(c.Advertise)...)
	}
	if d := c.DHCP; d != nil {
		r.line(true, d.Origin, "dhcp", dhcpArgs(d)...)
	}
	if d := c.DHCP6; d != nil {
		args := []string{"off"}
		if d.Inform {
			args = []string{"inform"}
			for _, n := range d.Names {
				args = append(args, "name", n)
			}
		}
		r.line(true, d.Origin, "dhcp6", args...)
	}
	r.line(c.DNSZone != "", c.Origins["dns"], "dns", "zone", c.DNSZone)
	r.line(c.MDNS, c.Origins["mdns"], "mdns", "on")
	r.line(c.LogServer != "", c.Origins["logserver"], "logserver", c.LogServer)
	if c.HTTP != nil {
		r.line(true, c.Origins["http"], "http", c.HTTP.words()...)
	}
	if l := c.Lease; l != nil {
		r.comment(fmt.Sprintf("DHCP lease on %s from %s: %s, router %s, DNS %s, NTP %s, for %s from %s (until %s)",
			l.Interface, l.Server, l.Address, addrOrNone(l.Router), listOrNone(l.DNS), listOrNone(l.NTP),
			l.Duration, l.Obtained.UTC().Format(time.RFC3339), l.Expires().UTC().Format(time.RFC3339)))
		for _, c := range l.Clamped {
			r.comment("clamped: " + c)
		}
		if len(n.Nameservers) == 0 && len(l.DNS) > 0 {
			r.comment("the box resolves names with the lease's DNS servers: " + listOrNone(l.DNS))
		}
		if !n.Gateway.IsValid() && l.Router.IsValid() {
			r.comment("the box routes through the lease's router: " + l.Router.String())
		}
	}
	return r.err
}

type renderer struct {
	w   io.Writer
	err error
}

// commentColumn is where the origin comments start, when the directive
// is shorter.
const commentColumn = 40

func (r *renderer) line(show bool, o Origin, directive string, args ...string) {
	if !show || r.err != nil {
		return
	}
	text := strings.Join(append([]string{directive}, args...), " ")
	_, r.err = fmt.Fprintf(r.w, "%-*s # %s\n", commentColumn-1, text, o)
}

func (r *renderer) comment(text string) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, "# %s\n", text)
	}
}

func (r *renderer) source(s Source) {
	kind := "server"
	if s.Pool {
		kind = "pool"
	}
	args := []string{s.Host}
	flag := func(on bool, name string) {
		if on {
			args = append(args, name)
		}
	}
	flag(s.IBurst, "iburst")
	flag(s.Burst, "burst")
	flag(s.Prefer, "prefer")
	flag(s.NoSelect, "noselect")
	flag(s.Trust, "trust")
	flag(s.Require, "require")
	if s.MinPoll != DefaultMinPoll || s.MaxPoll != DefaultMaxPoll {
		args = append(args, "minpoll", strconv.Itoa(s.MinPoll), "maxpoll", strconv.Itoa(s.MaxPoll))
	}
	if s.Port != DefaultPort {
		args = append(args, "port", strconv.Itoa(s.Port))
	}
	if s.Pool && s.MaxSources != DefaultMaxSources {
		args = append(args, "maxsources", strconv.Itoa(s.MaxSources))
	}
	number := func(v, def float64, name string) {
		if v != def {
			args = append(args, name, ftoa(v))
		}
	}
	integer := func(v, def int, name string) {
		if v != def {
			args = append(args, name, strconv.Itoa(v))
		}
	}
	number(s.MaxDelay, DefaultMaxDelay, "maxdelay")
	number(s.MaxDelayRatio, 0, "maxdelayratio")
	number(s.MaxDelayDevRatio, DefaultMaxDelayDevRatio, "maxdelaydevratio")
	number(s.MinDelay, 0, "mindelay")
	number(s.Asymmetry, DefaultAsymmetry, "asymmetry")
	number(s.Offset, 0, "offset")
	integer(s.MinStratum, 0, "minstratum")
	integer(s.Filter, 0, "filter")
	integer(s.PollTarget, DefaultPollTarget, "polltarget")
	integer(s.Presend, DefaultPresend, "presend")
	integer(s.Version, DefaultVersion, "version")
	integer(s.MinSamples, -1, "minsamples")
	integer(s.MaxSamples, -1, "maxsamples")
	flag(s.XLeave, "xleave")
	o := s.Origin
	if len(s.Options) > 0 {
		o.Note = strings.TrimSpace(o.Note + "; ignored: " + strings.Join(s.Options, ", "))
	}
	r.line(true, o, kind, args...)
}

// access renders an allow/deny rule; prefix is "cmd" for cmdallow/cmddeny.
func (r *renderer) access(a AccessRule, prefix string) {
	directive := prefix + "deny"
	if a.Allow {
		directive = prefix + "allow"
	}
	var args []string
	if a.All {
		args = append(args, "all")
	}
	switch {
	case a.Connected:
		args = append(args, "connected")
	case !a.Any:
		args = append(args, a.Prefix.String())
	}
	r.line(true, a.Origin, directive, args...)
}

func localArgs(l *Local) []string {
	args := []string{"stratum", strconv.Itoa(l.Stratum)}
	if l.Orphan {
		args = append(args, "orphan")
	}
	if l.Distance != 1 {
		args = append(args, "distance", ftoa(l.Distance))
	}
	if l.Activate != 0 {
		args = append(args, "activate", ftoa(l.Activate))
	}
	if l.WaitSynced != 0 {
		args = append(args, "waitsynced", ftoa(l.WaitSynced))
	}
	if l.WaitUnsynced >= 0 {
		args = append(args, "waitunsynced", ftoa(l.WaitUnsynced))
	}
	return args
}

func dhcpArgs(d *DHCP) []string {
	switch d.Mode {
	case DHCPServer:
		args := []string{"server", d.RangeStart.String(), d.RangeEnd.String()}
		if d.Lease != 0 {
			args = append(args, "lease", d.Lease.String())
		}
		if d.Router.IsValid() {
			args = append(args, "router", d.Router.String())
		}
		if len(d.DNS) > 0 {
			args = append(args, "dns", strings.Join(addrStrings(d.DNS), ","))
		}
		if d.LeaseFile != "" {
			args = append(args, "leasefile", d.LeaseFile)
		}
		return args
	}
	return []string{d.Mode.String()}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

func listOrNone(as []netip.Addr) string {
	if len(as) == 0 {
		return "none"
	}
	return strings.Join(addrStrings(as), ", ")
}
