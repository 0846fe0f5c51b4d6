package appliance

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Alias is one line of modules.alias: devices whose modalias matches
// Pattern (a shell glob) are driven by Module.
type Alias struct {
	Pattern string
	Module  string
}

// ParseAliases reads modules.alias ("alias PATTERN MODULE" lines; '#'
// starts a comment line).
func ParseAliases(r io.Reader) ([]Alias, error) {
	var out []Alias
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 || f[0] != "alias" {
			return nil, fmt.Errorf("modules.alias:%d: expected \"alias PATTERN MODULE\", got %q", n, sc.Text())
		}
		out = append(out, Alias{Pattern: f[1], Module: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.alias: %w", err)
	}
	return out, nil
}

// MatchModules returns the modules whose aliases match any of the
// modaliases, each once, in the order of the aliases. A bad pattern
// matches nothing.
func MatchModules(aliases []Alias, modaliases []string) []string {
	x := NewAliasIndex(aliases)
	var idx []int
	for _, m := range modaliases {
		idx = append(idx, x.matches(m)...)
	}
	return x.modules(idx)
}

// AliasIndex matches modaliases against modules.alias without trying
// every pattern on every device. A Debian kernel's modules.alias has
// thousands of patterns; matching each of a PC's ~40 modaliases against
// all of them with path.Match took 130 ms a round under QEMU's TCG, and
// a boot takes three rounds plus one for each burst of hot-plug events.
// Patterns are grouped by their bus ("pci", "usb", "virtio": the literal
// text before the first ':'), and a pattern's literal prefix is compared
// before it is matched. Patterns whose bus is itself a glob ("acpi*:")
// are tried on every modalias.
type AliasIndex struct {
	aliases []Alias
	literal []string         // each pattern's text before its first glob character
	byBus   map[string][]int // alias indices by bus, in file order
	anyBus  []int            // alias indices whose bus part is a glob, in file order
}

// NewAliasIndex indexes aliases (as ParseAliases returns them).
func NewAliasIndex(aliases []Alias) *AliasIndex {
	x := &AliasIndex{aliases: aliases, literal: make([]string, len(aliases)), byBus: map[string][]int{}}
	for i, a := range aliases {
		lit := a.Pattern
		if j := strings.IndexAny(lit, "*?[\\"); j >= 0 {
			lit = lit[:j]
		}
		x.literal[i] = lit
		if j := strings.IndexByte(lit, ':'); j >= 0 {
			x.byBus[lit[:j]] = append(x.byBus[lit[:j]], i)
		} else {
			x.anyBus = append(x.anyBus, i)
		}
	}
	return x
}

// matches returns the indices of the aliases that match one modalias,
// in ascending order.
func (x *AliasIndex) matches(m string) []int {
	var out []int
	try := func(idx []int) {
		for _, i := range idx {
			if !strings.HasPrefix(m, x.literal[i]) {
				continue
			}
			// Modaliases hold no '/', so path.Match is fnmatch(3) here.
			if ok, _ := path.Match(x.aliases[i].Pattern, m); ok {
				out = append(out, i)
			}
		}
	}
	if j := strings.IndexByte(m, ':'); j >= 0 {
		try(x.byBus[m[:j]])
	}
	try(x.anyBus)
	slices.Sort(out)
	return out
}

// modules maps alias indices to their modules: each once, in the
// order of the aliases.
func (x *AliasIndex) modules(idx []int) []string {
	idx = slices.Clone(idx)
	slices.Sort(idx)
	var mods []string
	seen := map[string]bool{}
	for _, i := range idx {
		if m := x.aliases[i].Module; !seen[m] {
			seen[m] = true
			mods = append(mods, m)
		}
	}
	return mods
}
