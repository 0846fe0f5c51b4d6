package persist

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// errPowerCut is what every call returns once the power is gone.
var errPowerCut = errors.New("power cut")

// cutFS is a FAT file system in memory whose power goes after budget
// units of work: each call that changes something costs one unit, and a
// write one unit per byte, so a cut can fall inside a write, which then
// reaches the disk only in part. After the cut every call fails and
// changes nothing. It remembers each file as of its last fsync (and
// which files were created since the directory's last fsync), so that
// the disk after the cut can be built in several ways (see variants).
type cutFS struct {
	files   map[string][]byte
	synced  map[string][]byte // contents at the last fsync of the file
	created map[string]bool   // created since the directory's last fsync
	removed map[string][]byte // removed since then, as last synced
	eio     map[string]bool   // reading it fails (a chain at odds with its size)
	// removedEIO are the files of removed that could not be read.
	removedEIO map[string]bool
	// writeEIO are files that read back whole but whose chain the
	// kernel cannot free or extend: writing or cutting them fails.
	writeEIO map[string]bool
	budget   int // units left; < 0: no limit
	used     int
}

func newCutFS() *cutFS {
	return &cutFS{files: map[string][]byte{}, synced: map[string][]byte{}, created: map[string]bool{},
		removed: map[string][]byte{}, eio: map[string]bool{}, removedEIO: map[string]bool{}, writeEIO: map[string]bool{}, budget: -1}
}

// spend takes n units; it returns how many were there (all n without a
// limit).
func (c *cutFS) spend(n int) int {
	if c.budget < 0 {
		c.used += n
		return n
	}
	got := min(n, c.budget)
	c.budget -= got
	c.used += got
	return got
}

func (c *cutFS) ReadFile(name string) ([]byte, error) {
	if c.eio[name] {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EIO}
	}
	b, ok := c.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(b), nil
}

func (c *cutFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if c.spend(1) < 1 {
		return nil, errPowerCut
	}
	if _, ok := c.files[name]; !ok {
		if flag&os.O_CREATE == 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		c.files[name] = []byte{}
		c.created[name] = true
	}
	return &cutFile{c, name}, nil
}

func (c *cutFS) Remove(name string) error {
	if c.spend(1) < 1 {
		return errPowerCut
	}
	if _, ok := c.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if s, ok := c.synced[name]; ok && !c.created[name] {
		c.removed[name] = s
		c.removedEIO[name] = c.eio[name]
	}
	delete(c.files, name)
	delete(c.synced, name)
	delete(c.created, name)
	delete(c.eio, name)
	delete(c.writeEIO, name)
	return nil
}

func (c *cutFS) SyncDir(dir string) error {
	if c.spend(1) < 1 {
		return errPowerCut
	}
	clear(c.created)
	clear(c.removed)
	clear(c.removedEIO)
	return nil
}

func (c *cutFS) IsFAT(string) (bool, error) { return true, nil }

type cutFile struct {
	c    *cutFS
	name string
}

func (f *cutFile) WriteAt(b []byte, off int64) (int, error) {
	if f.c.writeEIO[f.name] {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
	}
	n := f.c.spend(len(b))
	cur := f.c.files[f.name]
	if end := int(off) + n; end > len(cur) {
		cur = append(cur, make([]byte, end-len(cur))...)
	}
	copy(cur[off:], b[:n])
	f.c.files[f.name] = cur
	if n < len(b) {
		return n, errPowerCut
	}
	return n, nil
}

func (f *cutFile) Truncate(size int64) error {
	if f.c.spend(1) < 1 {
		return errPowerCut
	}
	cur := f.c.files[f.name]
	if int(size) <= len(cur) {
		f.c.files[f.name] = cur[:size]
	} else {
		f.c.files[f.name] = append(cur, make([]byte, int(size)-len(cur))...)
	}
	return nil
}

func (f *cutFile) Sync() error {
	if f.c.spend(1) < 1 {
		return errPowerCut
	}
	f.c.synced[f.name] = slices.Clone(f.c.files[f.name])
	return nil
}

func (f *cutFile) Close() error {
	if f.c.spend(1) < 1 {
		return errPowerCut
	}
	return nil
}

// disk is what a power cut left: files, and which of them cannot be
// read.
type disk struct {
	files map[string][]byte
	eio   map[string]bool
}

// variants returns the disks a power cut can leave, given what reached
// the disk in order (c.files): that; the changes since each file's last
// fsync lost (files created since the directory's fsync gone, files
// removed back); those changes reaching the disk as zeros, or as 0xff,
// with the file's new size (a size written before the data); two where
// each changed byte got there or not, at random; and one where each
// changed file cannot be read at all (its directory entry's size beyond
// its cluster chain: the kernel's "request beyond EOF").
func (c *cutFS) variants(seed uint64) map[string]disk {
	dirty := func(name string) bool {
		s, ok := c.synced[name]
		return !ok || !slices.Equal(s, c.files[name])
	}
	// A file that could not be read stays so until it is removed.
	out := map[string]disk{"in order": {files: maps.Clone(c.files), eio: maps.Clone(c.eio)}}
	lost := map[string][]byte{}
	for name, b := range c.files {
		if s, ok := c.synced[name]; ok {
			lost[name] = s
		} else if !c.created[name] {
			lost[name] = b
		}
	}
	maps.Copy(lost, c.removed)
	lostEIO := maps.Clone(c.eio)
	maps.Copy(lostEIO, c.removedEIO)
	out["unsynced lost"] = disk{files: lost, eio: lostEIO}
	garbage := func(fill func(i int, old, new byte) byte) disk {
		m := map[string][]byte{}
		for name, b := range c.files {
			old := c.synced[name]
			nb := slices.Clone(b)
			for i := range nb {
				var o byte
				if i < len(old) {
					o = old[i]
				}
				if i >= len(old) || nb[i] != o {
					nb[i] = fill(i, o, nb[i])
				}
			}
			m[name] = nb
		}
		return disk{files: m, eio: maps.Clone(c.eio)}
	}
	out["unsynced zeros"] = garbage(func(int, byte, byte) byte { return 0 })
	out["unsynced 0xff"] = garbage(func(int, byte, byte) byte { return 0xff })
	for k := range 2 {
		r := rand.New(rand.NewPCG(seed, uint64(k)))
		out[fmt.Sprintf("unsynced mixed %d", k)] = garbage(func(_ int, o, n byte) byte {
			if r.IntN(2) == 0 {
				return o
			}
			return n
		})
	}
	eio := maps.Clone(c.eio)
	for name := range c.files {
		if dirty(name) {
			eio[name] = true
		}
	}
	out["unsynced unreadable"] = disk{files: maps.Clone(c.files), eio: eio}
	return out
}

// sync marks everything as on the disk: the state between two writes.
func (c *cutFS) sync() {
	for name, b := range c.files {
		c.synced[name] = slices.Clone(b)
	}
	clear(c.created)
}

// versions are what the tests write, one after the other: lengths that
// grow and shrink, the same contents twice, an empty one.
var versions = []string{
	"  -11.251233             0.034567\n",
	"  -11.251299             0.034001\n",
	"{\"client\":\"hw:52:54:00:12:34:56\",\"addr\":\"198.18.0.100\"}\n{\"client\":\"hw:52:54:00:12:34:57\",\"addr\":\"198.18.0.101\"}\n",
	"short\n",
	"short\n",
	"",
	"after the empty one\n",
}

// A power cut after any number of bytes or calls of any Write, whatever
// reached the disk, leaves Read returning the old contents or the new:
// never garbage, and never nothing once one version was written. Then
// a Write on that disk is read back; on a disk with an unreadable copy,
// that Write (which removes the copy and writes it afresh) is itself cut
// too, at its calls' boundaries, for a sample of the disks.
func TestPowerCutDuringWrite(t *testing.T) {
	for _, start := range []string{"empty", "legacy"} {
		t.Run(start, func(t *testing.T) { testPowerCut(t, start) })
	}
}

const cutPath = "/perm/ntpbox.drift"

func testPowerCut(t *testing.T, start string) {
	base := newCutFS()
	old, had := "", false
	if start == "legacy" {
		base.files[cutPath] = []byte("   7.000000   0.100000\n")
		base.sync()
		old, had = "   7.000000   0.100000\n", true
	}
	every := func(used int) []int {
		var b []int
		for i := 0; i <= used; i++ {
			b = append(b, i)
		}
		return b
	}
	boundaries := func(used int) []int {
		return []int{0, 1, 2, 3, used / 2, used - 4, used - 3, used - 2, used - 1, used}
	}
	cases, nested := 0, 0
	for w, v := range versions {
		cutWrites(t, base, v, every, func(where string, after *cutFS) {
			cases++
			where = fmt.Sprintf("%s, write %d, %s", start, w, where)
			got, err := readCopies(after, cutPath)
			switch {
			case err == nil && (string(got) == v || had && string(got) == old):
			case err != nil && !had && errors.Is(err, fs.ErrNotExist):
			default:
				t.Fatalf("%s: read %q, %v; want %q or %q\n%s", where, got, err, old, v, dump(after.files))
			}
			if len(after.eio) > 0 && cases%16 == 0 {
				cutWrites(t, after, "next\n", boundaries, func(where2 string, again *cutFS) {
					nested++
					if got2, err := readCopies(again, cutPath); !(err == nil && (string(got2) == "next\n" || bytes.Equal(got2, got))) &&
						!(err != nil && got == nil && errors.Is(err, fs.ErrNotExist)) {
						t.Fatalf("%s, then the next write %s: read %q, %v; want %q or %q\n%s", where, where2, got2, err, got, "next\n", dump(again.files))
					}
				})
			}
			if err := writeCopy(after, cutPath, []byte("next\n"), 0o644); err != nil {
				t.Fatalf("%s: write after: %v", where, err)
			}
			if got, err := readCopies(after, cutPath); err != nil || string(got) != "next\n" {
				t.Fatalf("%s: read after a write after: %q %v\n%s", where, got, err, dump(after.files))
			}
		})
		if err := writeCopy(base, cutPath, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		base.sync()
		base.used = 0
		old, had = v, true
	}
	t.Logf("%s: %d disks after a power cut, and %d after a second one while a copy was unreadable, each read back right", start, cases, nested)
}

// cutWrites writes data on copies of base, cutting the power after each
// number of units budgets gives (from the units the write takes), and
// calls check with each disk the cut can leave.
func cutWrites(t *testing.T, base *cutFS, data string, budgets func(used int) []int, check func(where string, after *cutFS)) {
	t.Helper()
	probe := clone(base)
	if err := writeCopy(probe, cutPath, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, budget := range budgets(probe.used) {
		c := clone(base)
		c.budget = budget
		err := writeCopy(c, cutPath, []byte(data), 0o644)
		if budget < probe.used && !errors.Is(err, errPowerCut) {
			t.Fatalf("cut after %d of %d units: err %v", budget, probe.used, err)
		}
		for name, d := range c.variants(uint64(budget)<<8 | uint64(len(data))) {
			after := newCutFS()
			for name, b := range d.files {
				after.files[name] = slices.Clone(b)
			}
			after.sync()
			for name := range d.eio {
				if _, ok := after.files[name]; ok {
					after.eio[name] = true
				}
			}
			check(fmt.Sprintf("cut after %d of %d units, %s", budget, probe.used, name), after)
		}
	}
}

func clone(c *cutFS) *cutFS {
	n := newCutFS()
	for k, v := range c.files {
		n.files[k] = slices.Clone(v)
	}
	for k, v := range c.synced {
		n.synced[k] = slices.Clone(v)
	}
	maps.Copy(n.created, c.created)
	maps.Copy(n.removed, c.removed)
	maps.Copy(n.eio, c.eio)
	maps.Copy(n.removedEIO, c.removedEIO)
	return n
}

func dump(files map[string][]byte) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(&b, "  %s: %q\n", filepath.Base(k), files[k])
	}
	return b.String()
}

// A copy that reads back intact but cannot be written over (after a
// power cut, a cluster chain the kernel cannot free: "fat_free: invalid
// cluster chain", EIO on write, as TestPersistPowerCut met in a VM) is
// removed and written afresh, and the write succeeds.
func TestWriteOverUnwritableCopy(t *testing.T) {
	c := newCutFS()
	for _, v := range []string{"one\n", "two\n"} {
		if err := writeCopy(c, cutPath, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The next write goes to the copy that does not hold "two".
	target := copyName(cutPath, 3-newest(load(c, cutPath, 1), load(c, cutPath, 2)))
	c.writeEIO[target] = true
	if err := writeCopy(c, cutPath, []byte("three\n"), 0o644); err != nil {
		t.Fatalf("write over an unwritable copy: %v", err)
	}
	if c.writeEIO[target] {
		t.Errorf("%s was not written afresh", target)
	}
	if b, err := readCopies(c, cutPath); err != nil || string(b) != "three\n" {
		t.Errorf("read back %q, %v; want three", b, err)
	}
	// When the copy cannot be removed either, the error says both.
	target = copyName(cutPath, 3-newest(load(c, cutPath, 1), load(c, cutPath, 2)))
	c.writeEIO[target] = true
	c.budget = 2 // the open and the failing write, then the power is gone
	err := writeCopy(c, cutPath, []byte("four\n"), 0o644)
	if err == nil || !strings.Contains(err.Error(), "afresh") {
		t.Errorf("err = %v, want one that says the copy could not be written afresh", err)
	}
}
