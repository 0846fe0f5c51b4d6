package appliance

import (
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
	return SplitCmdline(string(b)), nil
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
