package appliance

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// ModuleDeps is modules.dep: each module's file (relative to the
// modules directory) and the files of the modules it needs.
type ModuleDeps struct {
	file map[string]string   // module name ('_' for '-') -> its file
	deps map[string][]string // file -> the files it needs
}

// ParseModuleDeps reads modules.dep ("FILE: DEP DEP ..." lines).
func ParseModuleDeps(r io.Reader) (*ModuleDeps, error) {
	md := &ModuleDeps{file: map[string]string{}, deps: map[string][]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, deps, ok := strings.Cut(line, ":")
		file = strings.TrimSpace(file)
		if !ok || file == "" || !strings.Contains(path.Base(file), ".ko") {
			return nil, fmt.Errorf("modules.dep:%d: expected \"FILE.ko: DEPS\", got %q", n, sc.Text())
		}
		md.file[ModuleName(file)] = file
		md.deps[file] = strings.Fields(deps)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return md, nil
}

// ModuleName is the name the kernel gives a module file: its base name
// without ".ko" and any compression suffix, with '_' for '-'.
func ModuleName(file string) string {
	b := path.Base(file)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// Load loads module name after the modules it needs, each once: load
// is called with each file, dependencies first, and loaded says which
// names are in the kernel already (it is updated). It returns the
// first error, naming the module.
func (md *ModuleDeps) Load(name string, loaded map[string]bool, load func(file string) error) error {
	name = strings.ReplaceAll(name, "-", "_")
	if loaded[name] {
		return nil // or built in
	}
	file, ok := md.file[name]
	if !ok {
		return fmt.Errorf("module %s: not in modules.dep", name)
	}
	return md.load(file, loaded, load, nil)
}

func (md *ModuleDeps) load(file string, loaded map[string]bool, load func(string) error, stack []string) error {
	name := ModuleName(file)
	if loaded[name] {
		return nil
	}
	for _, s := range stack {
		if s == file {
			return fmt.Errorf("module %s: circular dependency (%s)", name, strings.Join(append(stack, file), " -> "))
		}
	}
	for _, d := range md.deps[file] {
		if err := md.load(d, loaded, load, append(stack, file)); err != nil {
			return err
		}
	}
	if err := load(file); err != nil {
		return fmt.Errorf("module %s (%s): %w", name, file, err)
	}
	loaded[name] = true
	return nil
}
