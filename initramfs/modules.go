package initramfs

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
)

// Module is one kernel module of a module tree.
type Module struct {
	Name    string   // canonical name: '-' turned into '_', no suffix
	Path    string   // relative to lib/modules/VERSION, e.g. kernel/drivers/net/virtio_net.ko
	Depends []string // canonical names, from .modinfo depends=
	Aliases []string // modalias patterns, from .modinfo alias=
}

// CanonicalName turns a module file or name into the kernel's name for it:
// "kernel/drivers/net/ethernet/8390/ne2k-pci.ko" -> "ne2k_pci".
func CanonicalName(s string) string {
	s = path.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// Without returns names but for the modules below one of dirs.
func (t *Tree) Without(names, dirs []string) []string {
	var out []string
	for _, n := range names {
		p := t.paths[CanonicalName(n)]
		if !slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(p, d+"/") }) {
			out = append(out, n)
		}
	}
	return out
}

// Tree is the module tree of one kernel: lib/modules/VERSION.
type Tree struct {
	FS    fs.FS             // rooted at lib/modules/VERSION
	paths map[string]string // canonical name -> path
	// builtin are the modules built into the kernel (modules.builtin):
	// asked for, they need no file (arm64's mmc_block, button).
	builtin map[string]bool
}

// OpenTree indexes the .ko files under fsys (rooted at
// lib/modules/VERSION).
func OpenTree(fsys fs.FS) (*Tree, error) {
	t := &Tree{FS: fsys, paths: map[string]string{}, builtin: map[string]bool{}}
	if b, err := fs.ReadFile(fsys, "modules.builtin"); err == nil {
		for _, l := range strings.Fields(string(b)) {
			t.builtin[CanonicalName(l)] = true
		}
	}
	err := fs.WalkDir(fsys, "kernel", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			t.paths[CanonicalName(p)] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index modules: %w", err)
	}
	return t, nil
}

// Under returns the canonical names of the modules below dir (relative
// to the tree, e.g. "kernel/drivers/net/ethernet"), sorted.
func (t *Tree) Under(dir string) []string {
	var out []string
	for name, p := range t.paths {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Module reads one module's .modinfo.
func (t *Tree) Module(name string) (Module, error) {
	p, ok := t.paths[CanonicalName(name)]
	if !ok {
		return Module{}, fmt.Errorf("module %s: not in the tree", name)
	}
	f, err := t.FS.Open(p)
	if err != nil {
		return Module{}, err
	}
	defer f.Close()
	ra, ok := f.(interface {
		ReadAt([]byte, int64) (int, error)
	})
	if !ok {
		return Module{}, fmt.Errorf("module %s: file does not support ReadAt", p)
	}
	ef, err := elf.NewFile(ra)
	if err != nil {
		return Module{}, fmt.Errorf("module %s: %w", p, err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return Module{}, fmt.Errorf("module %s: no .modinfo section", p)
	}
	info, err := sec.Data()
	if err != nil {
		return Module{}, fmt.Errorf("module %s: read .modinfo: %w", p, err)
	}
	m := parseModinfo(info)
	m.Name, m.Path = CanonicalName(p), p
	return m, nil
}

// parseModinfo reads the NUL-separated key=value strings of .modinfo.
func parseModinfo(b []byte) Module {
	var m Module
	for _, kv := range strings.Split(string(b), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d != "" {
					m.Depends = append(m.Depends, CanonicalName(d))
				}
			}
		case "alias":
			m.Aliases = append(m.Aliases, v)
		}
	}
	return m
}

// Resolve returns the named modules and everything they depend on, each
// once, sorted by path.
func (t *Tree) Resolve(names []string) ([]Module, error) {
	byName := map[string]Module{}
	var visit func(name string) error
	visit = func(name string) error {
		name = CanonicalName(name)
		if _, ok := byName[name]; ok {
			return nil
		}
		if _, ok := t.paths[name]; !ok && t.builtin[name] {
			return nil
		}
		m, err := t.Module(name)
		if err != nil {
			return err
		}
		byName[name] = m
		for _, d := range m.Depends {
			if err := visit(d); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	mods := make([]Module, 0, len(byName))
	for _, m := range byName {
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}
