package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Param is one kernel command line parameter, KEY or KEY=VALUE, with the
// quotes the kernel strips already stripped.
type Param struct {
	Key      string
	Value    string
	HasValue bool // the parameter had an '=' (VALUE may still be empty)
}

func (p Param) String() string {
	if p.HasValue {
		return p.Key + "=" + p.Value
	}
	return p.Key
}

// maxCmdline bounds what ReadCmdline reads; the kernel's own limit on
// x86 is 2048 bytes.
const maxCmdline = 64 << 10

// ReadCmdline reads a kernel command line (the contents of /proc/cmdline)
// from r and splits it with [SplitCmdline].
func ReadCmdline(r io.Reader) ([]Param, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCmdline+1))
	if err != nil {
		return nil, fmt.Errorf("read kernel command line: %w", err)
	}
	if len(b) > maxCmdline {
		return nil, fmt.Errorf("read kernel command line: longer than %d bytes", maxCmdline)
	}
	return SplitCmdline(string(bytes.TrimPrefix(b, utf8BOM))), nil
}

// SplitCmdline splits a kernel command line into parameters as the
// kernel's next_arg does: parameters are separated by white space outside
// double quotes; a quote at the start of a parameter or of its value is
// dropped together with a quote at its end. Parameters after a lone "--"
// are init's arguments, not kernel parameters, and are left out ("--=x"
// is a parameter, a quoted "--" is the separator, as in the kernel).
func SplitCmdline(s string) []Param {
	var params []Param
	for {
		s = strings.TrimLeft(s, spaces)
		if s == "" {
			return params
		}
		var word string
		word, s = nextWord(s)
		p := splitParam(word)
		if p.Key == "--" && !p.HasValue {
			return params
		}
		params = append(params, p)
	}
}

const spaces = " \t\n\v\f\r"

// nextWord returns the parameter at the start of s (which starts with no
// space) and the rest; white space inside double quotes does not end it.
func nextWord(s string) (word, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case !inQuote && strings.IndexByte(spaces, c) >= 0:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// splitParam splits one word at its first '=' (as the kernel does, even
// inside quotes) and strips the quotes the kernel strips.
func splitParam(word string) Param {
	quoted := strings.HasPrefix(word, `"`)
	if quoted {
		word = word[1:]
	}
	eq := strings.IndexByte(word, '=')
	if eq <= 0 { // the kernel does not split at an '=' in first place either
		if quoted {
			word = strings.TrimSuffix(word, `"`)
		}
		return Param{Key: word}
	}
	key, val := word[:eq], word[eq+1:]
	if strings.HasPrefix(val, `"`) {
		val = strings.TrimSuffix(val[1:], `"`)
	} else if quoted {
		val = strings.TrimSuffix(val, `"`)
	}
	return Param{Key: key, Value: val, HasValue: true}
}

// CmdlinePrefix starts the kernel command line parameters that configure
// the box: ntpbox.DIRECTIVE=ARGS, with ',' for each space in ARGS.
const CmdlinePrefix = "ntpbox."

// CmdlinePart turns the ntpbox.* parameters of a kernel command line (or
// of cmdline.txt) into a config layer: ntpbox.DIRECTIVE=ARGS becomes the
// line "DIRECTIVE ARGS" with each ',' in ARGS standing for a space, and
// ntpbox.DIRECTIVE alone the line "DIRECTIVE". The lines go through the
// same grammar as the config file's, in Merge. Parameters that are not
// ntpbox's, and ntpbox.test* parameters (test hooks for init, not
// directives), are skipped. A parameter that cannot be a line at all (a
// control character, an empty directive) is an error naming it.
func CmdlinePart(layer Layer, name string, params []Param) (Part, []error) {
	part := Part{Layer: layer, Name: name}
	var errs []error
	for i, p := range params {
		if !strings.HasPrefix(p.Key, CmdlinePrefix) {
			continue
		}
		directive := p.Key[len(CmdlinePrefix):]
		if strings.HasPrefix(strings.ToLower(directive), "test") {
			continue
		}
		origin := Origin{Layer: layer, File: name, Line: i + 1, Note: p.String()}
		if !isWord(directive) {
			errs = append(errs, &Error{Origin: origin, Directive: p.Key,
				Msg: "expected " + CmdlinePrefix + "DIRECTIVE with a directive of letters, digits and _"})
			continue
		}
		if strings.ContainsFunc(p.Value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			errs = append(errs, &Error{Origin: origin, Directive: directive, Msg: "control character in the arguments"})
			continue
		}
		words := append([]string{directive}, strings.Fields(strings.ReplaceAll(p.Value, ",", " "))...)
		part.Lines = append(part.Lines, Line{Origin: origin, Words: words})
	}
	return part, errs
}

func isWord(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}
