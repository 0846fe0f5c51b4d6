package config

import (
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
	stack    []string // files being read, outermost first, for include cycles

	bound          map[netip.Addr]Pos // bindaddress lines seen
	rateLimitPos   *Pos               // last ratelimit line
	noClientLogPos *Pos               // last noclientlog line
}

func newParser(fsys FS) *parser {
	return &parser{fsys: fsys, cfg: Default(), bound: map[netip.Addr]Pos{}}
}

// line is one directive line split into words.
type line struct {
	pos  Pos
	name string // the directive, lower case
	args []string
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

	for i, text := range strings.Split(string(data), "\n") {
		words := splitWords(text)
		if len(words) == 0 || strings.ContainsRune("#!;%", rune(words[0][0])) {
			continue
		}
		l := &line{pos: Pos{File: name, Line: i + 1}, name: asciiLower(words[0]), args: words[1:]}
		if err := p.directive(l); err != nil {
			p.fail(l, words[0], err)
		}
	}
}

// directive applies one line to the config.
func (p *parser) directive(l *line) error {
	switch l.name {
	case "allow", "deny":
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
	case "address", "gateway", "nameserver", "interface":
		return p.network(l)
	case "include":
		return p.include(l)
	case "confdir":
		return p.confDir(l)
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
	p.errs = append(p.errs, &Error{Pos: l.pos, Directive: directive, Msg: err.Error(), err: errors.Unwrap(err)})
}

func (p *parser) warn(l *line, msg string) {
	p.warnings = append(p.warnings, Warning{Pos: l.pos, Directive: l.name, Msg: msg})
}

// finish runs the checks that span lines and returns Parse's results.
func (p *parser) finish() (*Config, []Warning, error) {
	if p.rateLimitPos != nil && p.noClientLogPos != nil {
		l := &line{pos: *p.rateLimitPos, name: "ratelimit"}
		p.fail(l, l.name, fmt.Errorf("cannot be used with noclientlog (%s), as in chrony", p.noClientLogPos))
	}
	if d := p.cfg.DHCP; d != nil && (d.Mode == DHCPInform || d.Mode == DHCPServer) && len(p.cfg.Advertise) > 0 && !anyIPv4(p.cfg.Advertise) {
		l := &line{pos: d.Pos, name: "dhcp"}
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
