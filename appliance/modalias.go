package appliance

import (
	"bufio"
	"fmt"
	"io"
	"path"
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
	var mods []string
	seen := map[string]bool{}
	for _, a := range aliases {
		if seen[a.Module] {
			continue
		}
		for _, m := range modaliases {
			// Modaliases hold no '/', so path.Match is fnmatch(3) here.
			if ok, _ := path.Match(a.Pattern, m); ok {
				seen[a.Module] = true
				mods = append(mods, a.Module)
				break
			}
		}
	}
	return mods
}
