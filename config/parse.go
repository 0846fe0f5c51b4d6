package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Load parses the config file at path through the operating system's file
// system. It is Parse(OSFS{}, path).
func Load(path string) (*Config, []Warning, error) {
	return Parse(OSFS{}, path)
}

// Parse reads the config file path from fsys, following `include` and
// `confdir`, and validates it.
//
// If the file cannot be read, the error wraps the read error. If lines are
// bad, the error is errors.Join of one *Error per bad line, in file order,
// and the Config is nil. Warnings are returned in both cases.
func Parse(fsys FS, path string) (*Config, []Warning, error) {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	p := newParser(fsys)
	p.file(path, data)
	return p.finish()
}

// ParseBytes parses data as a config file called name. It reads nothing:
// `include` and `confdir` lines are errors.
func ParseBytes(name string, data []byte) (*Config, []Warning, error) {
	p := newParser(nil)
	p.file(name, data)
	return p.finish()
}

// parser is the state of one Parse call.
type parser struct {
	fsys     FS // nil: include and confdir are not available
	cfg      *Config
	warnings []Warning
	errs     []error
	stack    []string       // files being read, outermost first, for include cycles
	layer    Layer          // of the lines being applied (LayerFile for Parse)
	layerSeq int            // counts the layers applied, for replacing network directives
	netLayer map[string]int // network directive -> layerSeq that last set it

	bound         map[netip.Addr]Origin // bindaddress lines seen
	rateLimitAt   *Origin               // last ratelimit line
	noClientLogAt *Origin               // last noclientlog line
}

func newParser(fsys FS) *parser {
	return &parser{fsys: fsys, cfg: Default(), bound: map[netip.Addr]Origin{}, layer: LayerFile,
		netLayer: map[string]int{}}
}

// line is one directive line split into words.
type line struct {
	origin Origin
	name   string // the directive, lower case
	args   []string
}

// arg returns argument i, or nil when there are fewer arguments.
func (l *line) arg(i int) *string {
	if i < len(l.args) {
		return &l.args[i]
	}
	return nil
}

// noArgs checks a directive that takes no arguments.
func (l *line) noArgs() error {
	if len(l.args) > 0 {
		return fmt.Errorf("expected no arguments, got %q", l.args[0])
	}
	return nil
}

// oneArg returns the single argument of a directive, described by what.
func (l *line) oneArg(what string) (string, error) {
	switch len(l.args) {
	case 0:
		return "", fmt.Errorf("expected %s, got nothing", what)
	case 1:
		return l.args[0], nil
	default:
		return "", fmt.Errorf("expected only %s, got extra argument %q", what, l.args[1])
	}
}

// file parses the contents of one file.
func (p *parser) file(name string, data []byte) {
	p.stack = append(p.stack, cleanName(name))
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()

	for _, l := range fileLines(p.layer, name, data) {
		p.apply(l)
	}
}

// utf8BOM is U+FEFF, the byte order mark, in UTF-8.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// Line is one directive line: its words, and where it came from.
type Line struct {
	Origin Origin
	Words  []string // the directive and its arguments, as written
}

// fileLines splits a file into its directive lines, dropping comments.
func fileLines(layer Layer, name string, data []byte) []Line {
	var out []Line
	// Windows' Notepad starts a UTF-8 file with a byte order mark; the
	// partition is FAT so that people can edit it there.
	data = bytes.TrimPrefix(data, utf8BOM)
	for i, text := range strings.Split(string(data), "\n") {
		if words := lineWords(text); len(words) > 0 {
			out = append(out, Line{Origin: Origin{Layer: layer, File: name, Line: i + 1}, Words: words})
		}
	}
	return out
}

// lineWords splits one line into words, without its comment: a line
// whose first word starts with #, !, ; or % is a comment, as in chrony,
// and so is the rest of a line from a word that starts with # (an
// ntpbox extension: chrony has no trailing comments, so `server a #
// primary` would fail there).
func lineWords(text string) []string {
	words := splitWords(text)
	if len(words) > 0 && strings.ContainsRune("#!;%", rune(words[0][0])) {
		return nil
	}
	for i, w := range words {
		if w[0] == '#' {
			return words[:i]
		}
	}
	return words
}

// apply applies one line to the config, recording an error if it is bad.
func (p *parser) apply(src Line) {
	l := &line{origin: src.Origin, name: asciiLower(src.Words[0]), args: src.Words[1:]}
	if err := p.directive(l); err != nil {
		p.fail(l, src.Words[0], err)
		return
	}
	p.cfg.setOrigin(l.name, l.origin)
}

// directive applies one line to the config.
func (p *parser) directive(l *line) error {
	switch l.name {
	case "allow", "deny", "cmdallow", "cmddeny":
		return p.access(l)
	case "local":
		return p.local(l)
	case "port":
		return p.port(l)
	case "bindaddress":
		return p.bindAddress(l)
	case "ratelimit":
		return p.rateLimit(l)
	case "clientloglimit":
		return p.clientLogLimit(l)
	case "noclientlog":
		return p.noClientLog(l)
	case "server", "pool":
		return p.source(l)
	case "makestep":
		return p.makeStep(l)
	case "driftfile":
		return p.driftFile(l)
	case "rtcsync":
		return p.rtcSync(l)
	case "minsources":
		return p.minSources(l)
	case "maxchange":
		return p.maxChange(l)
	case "bindcmdaddress":
		return p.bindCmdAddress(l)
	case "cmdport":
		return p.cmdPort(l)
	case "pidfile":
		return p.pidFile(l)
	case "advertise":
		return p.advertise(l)
	case "dhcp":
		return p.dhcp(l)
	case "dhcp6":
		return p.dhcp6(l)
	case "dns":
		return p.dnsDirective(l)
	case "address", "gateway", "nameserver", "interface", "hostname":
		return p.network(l)
	case "include":
		return p.include(l)
	case "confdir":
		return p.confDir(l)
	case "fallbackdrift":
		return p.fallbackDrift(l)
	case "leapsectz":
		return p.leapSecTZ(l)
	case "leapsecmode":
		return p.leapSecMode(l)
	case "logserver":
		return p.logServer(l)
	case "mdns":
		return p.mdns(l)
	case "http":
		return p.http(l)
	}
	if ok, err := p.tuningDirective(l); ok {
		return err
	}
	if needsAuth(l.name) {
		return errors.New(msgNoAuth)
	}
	if rejected(l.name) {
		return errors.New(msgChangesTime)
	}
	if msg, ok := unimplemented(l.name); ok {
		p.warn(l, msg)
		return nil
	}
	return errUnknownDirective
}

var errUnknownDirective = errors.New("unknown directive")

// fail records err as the Error of line l. written is the directive as it
// appears in the file; unknown directives are reported that way.
func (p *parser) fail(l *line, written string, err error) {
	directive := l.name
	if errors.Is(err, errUnknownDirective) {
		directive = written
	}
	p.errs = append(p.errs, &Error{Origin: l.origin, Directive: directive, Msg: err.Error(), err: errors.Unwrap(err)})
}

func (p *parser) warn(l *line, msg string) {
	p.warnings = append(p.warnings, Warning{Origin: l.origin, Directive: l.name, Msg: msg})
}

// finish runs the checks that span lines and returns Parse's results.
func (p *parser) finish() (*Config, []Warning, error) {
	if p.rateLimitAt != nil && p.noClientLogAt != nil {
		l := &line{origin: *p.rateLimitAt, name: "ratelimit"}
		p.fail(l, l.name, fmt.Errorf("cannot be used with noclientlog (%s), as in chrony", p.noClientLogAt))
	}
	if d := p.cfg.DHCP; d != nil && (d.Mode == DHCPInform || d.Mode == DHCPServer) && len(p.cfg.Advertise) > 0 && !anyIPv4(p.cfg.Advertise) {
		l := &line{origin: d.Origin, name: "dhcp"}
		p.fail(l, l.name, fmt.Errorf("expected an IPv4 address in advertise: option 42 carries IPv4 only, got %v", p.cfg.Advertise))
	}
	if len(p.errs) > 0 {
		return nil, p.warnings, errors.Join(p.errs...)
	}
	return p.cfg, p.warnings, nil
}

// splitWords splits a line at the characters C's isspace accepts in the C
// locale, as chrony does.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return true
		}
		return false
	})
}

// asciiLower lower-cases ASCII letters only, matching chrony's strcasecmp;
// strings.ToLower would also fold e.g. the Kelvin sign into "k".
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
