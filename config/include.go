package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// Limits of include and confdir, as in chrony.
const (
	maxIncludeDepth = 10 // files open at once, the top file included
	maxConfDirs     = 10 // directories of one confdir line
)

var errNoInclude = errors.New("include not available here")

// include handles `include PATTERN`. A pattern without wildcards names a
// file that must exist; a wildcard pattern may match nothing, which is a
// warning (chrony ignores it silently). Matches are read in sorted order.
func (p *parser) include(l *line) error {
	if p.fsys == nil {
		return errNoInclude
	}
	pattern, err := l.oneArg("a file name or a glob pattern")
	if err != nil {
		return err
	}
	names := []string{pattern}
	if hasGlobMeta(pattern) {
		names, err = p.fsys.Glob(pattern)
		if err != nil {
			return fmt.Errorf("expected a valid glob pattern, got %q: %w", pattern, err)
		}
		if len(names) == 0 {
			p.warn(l, fmt.Sprintf("no files match %q; nothing included", pattern))
			return nil
		}
		slices.Sort(names)
	}
	return p.readAll(names)
}

// confDir handles `confdir DIR...`: the *.conf files of the directories,
// sorted by file name; of files with the same name only the one in the
// earliest directory is read. Missing directories are skipped, as in chrony.
func (p *parser) confDir(l *line) error {
	if p.fsys == nil {
		return errNoInclude
	}
	if len(l.args) == 0 || len(l.args) > maxConfDirs {
		return fmt.Errorf("expected 1..%d directories, got %d", maxConfDirs, len(l.args))
	}
	paths := map[string]string{} // file name -> path of the first one
	for _, dir := range l.args {
		entries, err := p.fsys.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot read directory %q: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".conf") {
				continue
			}
			if _, ok := paths[name]; !ok {
				paths[name] = filepath.Join(dir, name)
			}
		}
	}
	names := make([]string, 0, len(paths))
	for name := range paths {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		names[i] = paths[name]
	}
	return p.readAll(names)
}

// readAll parses the named files in order. Every file is tried; the first
// failure is returned as the error of the include line.
func (p *parser) readAll(names []string) error {
	var first error
	for _, name := range names {
		if err := p.readFile(name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// readFile parses one included file, refusing cycles and deep nesting.
func (p *parser) readFile(name string) error {
	clean := cleanName(name)
	if i := slices.Index(p.stack, clean); i >= 0 {
		cycle := append(slices.Clone(p.stack[i:]), clean)
		return fmt.Errorf("expected no include cycle, got %s", strings.Join(cycle, " -> "))
	}
	if len(p.stack) >= maxIncludeDepth {
		return fmt.Errorf("expected at most %d nested files, got %s -> %s", maxIncludeDepth, strings.Join(p.stack, " -> "), clean)
	}
	data, err := p.fsys.ReadFile(name)
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", name, err)
	}
	p.file(name, data)
	return nil
}

// hasGlobMeta reports whether pattern has filepath.Match wildcards.
func hasGlobMeta(pattern string) bool {
	return strings.ContainsAny(pattern, `*?[\`)
}

// cleanName is the form of a file name compared for include cycles.
func cleanName(name string) string {
	return filepath.Clean(name)
}
