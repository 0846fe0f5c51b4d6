package initramfs

import (
	"fmt"
	"strings"
)

// ModulesDep returns modules.dep for mods, as depmod writes it: each
// module's path, a colon, and the paths of all it depends on, directly or
// not, in the order to load them last to first. A module with no
// dependencies gets "path:" with no trailing space (u-root's kmodule
// reads "path: " as depending on the module directory itself).
// suffix is appended to every path (".zst" for compressed modules).
func ModulesDep(mods []Module, suffix string) (string, error) {
	byName := map[string]Module{}
	for _, m := range mods {
		byName[m.Name] = m
	}
	var b strings.Builder
	for _, m := range mods {
		deps, err := closure(m, byName)
		if err != nil {
			return "", err
		}
		b.WriteString(m.Path + suffix + ":")
		for _, d := range deps {
			b.WriteString(" " + byName[d].Path + suffix)
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// closure returns every module m depends on, depth first, a module
// before the ones it depends on (depmod's order).
func closure(m Module, byName map[string]Module) ([]string, error) {
	var out []string
	seen := map[string]bool{m.Name: true}
	var visit func(Module) error
	visit = func(m Module) error {
		for _, d := range m.Depends {
			if seen[d] {
				continue
			}
			dm, ok := byName[d]
			if !ok {
				return fmt.Errorf("modules.dep: %s depends on %s, which is not included", m.Name, d)
			}
			seen[d] = true
			out = append(out, d)
			if err := visit(dm); err != nil {
				return err
			}
		}
		return nil
	}
	return out, visit(m)
}

// ModulesAlias returns modules.alias for mods: "alias PATTERN NAME" for
// every alias, in module order.
func ModulesAlias(mods []Module) string {
	var b strings.Builder
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range mods {
		for _, a := range m.Aliases {
			fmt.Fprintf(&b, "alias %s %s\n", a, m.Name)
		}
	}
	return b.String()
}
