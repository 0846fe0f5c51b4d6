package config

import "errors"

// Part is one layer of the box's config: the lines of a config file or
// of a kernel command line, with their origins.
type Part struct {
	Layer Layer
	Name  string // the file, or "kernel command line"
	Lines []Line
}

// FilePart is a config file's text as a layer. It only splits the text
// into lines; Merge checks them.
func FilePart(layer Layer, name string, data []byte) Part {
	return Part{Layer: layer, Name: name, Lines: fileLines(layer, name, data)}
}

// Merge builds the box's config from its layers, lowest precedence
// first, and the DHCP lease (nil when there is none). Each line is
// parsed once, with one grammar, whatever layer it comes from, and
// applied in order, as if the parts were one file:
//
//   - a single-value directive (local, makestep, port, dhcp...) of a later
//     part replaces an earlier one's;
//   - a repeatable chrony directive (server, pool, allow, deny...) adds to
//     the earlier parts' lines;
//   - the network directives of a later part replace the earlier parts':
//     an `address` replaces their address, gateway and nameserver lines;
//     `gateway`, `nameserver`, `interface` and `hostname` replace their
//     own kind.
//
// The lease comes below every part (see Lease). Every setting records
// its Origin. fsys reads the files that `include` and `confdir` name
// (nil: those lines are errors).
//
// Errors are reported as by Parse: errors.Join of one *Error per bad
// line, each with the Origin of its line, so that the caller can tell
// which layer is bad and merge again without it.
func Merge(fsys FS, lease *Lease, parts ...Part) (*Config, []Warning, error) {
	p := newParser(fsys)
	for _, part := range parts {
		p.layer = part.Layer
		p.layerSeq++
		p.stack = []string{cleanName(part.Name)}
		for _, l := range part.Lines {
			p.apply(l)
		}
	}
	p.stack = nil
	cfg, warns, err := p.finish()
	if err != nil {
		return nil, warns, err
	}
	if lease != nil {
		cfg.addLease(lease)
	}
	return cfg, warns, nil
}

// Errors returns the *Error values of an error of Parse or Merge (one
// per bad line), and nothing for another error.
func Errors(err error) []*Error {
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	var out []*Error
	for _, e := range errs {
		var ce *Error
		if errors.As(e, &ce) {
			out = append(out, ce)
		}
	}
	return out
}

// BadLayers returns the layers that an error of Merge blames.
func BadLayers(err error) map[Layer]bool {
	bad := map[Layer]bool{}
	for _, e := range Errors(err) {
		bad[e.Origin.Layer] = true
	}
	return bad
}

// Without returns part without the lines that err blames.
func (part Part) Without(err error) Part {
	blamed := map[Origin]bool{}
	for _, e := range Errors(err) {
		blamed[e.Origin] = true
	}
	out := part
	out.Lines = nil
	for _, l := range part.Lines {
		if !blamed[l.Origin] {
			out.Lines = append(out.Lines, l)
		}
	}
	return out
}

// ApplianceDefaults is the appliance's own defaults layer, below the
// config file: an address from DHCP, NTP served to every subnet the box
// is on (as those subnets are at the time, see AccessRule.Connected),
// mDNS, the command port (chronyc -h, read-only) open to the same
// subnets, and, when the persistent partition is mounted, the drift file
// on it.
func ApplianceDefaults(driftFile string) Part {
	o := func(note string) Origin { return Origin{Layer: LayerDefault, Note: note} }
	lines := []Line{
		{Origin: o("the appliance asks DHCP for its address unless the config gives one"), Words: []string{"address", "dhcp"}},
		{Origin: o("the appliance serves the subnets it is on"), Words: []string{"allow", "connected"}},
		{Origin: o("the appliance answers as HOST.local and announces _ntp._udp and _http._tcp"), Words: []string{"mdns", "on"}},
		{Origin: o("chronyc -h BOX works from the subnets the box is on"), Words: []string{"cmdallow", "connected"}},
		{Origin: o("the status page and /metrics on port 80 of the box's LAN addresses"), Words: []string{"http", "lan"}},
	}
	if driftFile != "" {
		lines = append(lines, Line{Origin: o("on the persistent partition"), Words: []string{"driftfile", driftFile}})
	}
	return Part{Layer: LayerDefault, Name: "appliance defaults", Lines: lines}
}
