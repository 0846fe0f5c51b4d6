package persist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// header is how every copy on FAT begins: "# ntpbox copy N of 2,
// generation G, L bytes, sha256 H\n", then L bytes of contents, then
// padding up to a multiple of Slot bytes.
const (
	magic     = "# ntpbox copy "
	maxHeader = 160 // bytes, newline included; a real one is ~115
	// Slot is what a copy's size is rounded up to, so that a new
	// version is the same size as the last one: written in place, it
	// changes no FAT entry and no cluster chain (which a power cut can
	// leave at odds with the file's size).
	Slot = 512
)

// Encode returns the file contents of copy n (1: PATH, 2: PATH.2) of
// generation gen holding data: what [Write] puts on FAT. Tests and
// tools use it to place a file on a FAT image by other means (mtools).
func Encode(n int, gen uint64, data []byte) []byte {
	pre := prefix(n, gen, len(data))
	sum := checksum(pre, data)
	out := make([]byte, 0, len(pre)+80+len(data)+Slot)
	out = append(out, pre...)
	out = append(out, ", sha256 "...)
	out = hex.AppendEncode(out, sum[:])
	out = append(out, '\n')
	out = append(out, data...)
	return append(out, padding((Slot-len(out)%Slot)%Slot)...)
}

// padding is k bytes that end a copy: nothing, a newline, or a comment
// line of spaces, so that a person reading the file sees one more line.
func padding(k int) []byte {
	switch k {
	case 0:
		return nil
	case 1:
		return []byte{'\n'}
	}
	b := bytes.Repeat([]byte{' '}, k)
	b[0], b[k-1] = '#', '\n'
	return b
}

func prefix(n int, gen uint64, size int) string {
	return fmt.Sprintf("%s%d of 2, generation %d, %d bytes", magic, n, gen, size)
}

func checksum(prefix string, data []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(prefix))
	h.Write([]byte{'\n'})
	h.Write(data)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// copyState is what one copy holds.
type copyState struct {
	exists bool
	broken bool   // it exists, but reading it failed (a FAT chain at odds with its size)
	intact bool   // a header and contents that match, or a legacy file
	legacy bool   // copy 1 without a header: a file from before the two copies
	gen    uint64 // 0 for legacy
	data   []byte
	why    error // when not intact
}

// decode parses the contents b of the file of copy n.
func decode(n int, b []byte) copyState {
	s := copyState{exists: true}
	if !bytes.HasPrefix(b, []byte(magic)) {
		// A file that does not start with the header is a legacy
		// file, written before there were two copies (or by a person),
		// unless it is the start of a header cut short, or binary
		// (a torn write can leave zeros or stale clusters).
		switch {
		case n != 1:
			s.why = errors.New("no header")
		case len(b) < len(magic) && strings.HasPrefix(magic, string(b)):
			s.why = errors.New("header cut short")
		case bytes.IndexByte(b, 0) >= 0:
			s.why = errors.New("no header, and NUL bytes")
		default:
			s.intact, s.legacy, s.data = true, true, b
		}
		return s
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 || nl >= maxHeader {
		s.why = errors.New("header cut short")
		return s
	}
	line, rest := string(b[:nl]), b[nl+1:]
	var cn, size int
	var gen uint64
	var sum string
	if _, err := fmt.Sscanf(line, magic+"%d of 2, generation %d, %d bytes, sha256 %s", &cn, &gen, &size, &sum); err != nil {
		s.why = fmt.Errorf("header %q: %v", line, err)
		return s
	}
	pre := prefix(cn, gen, size)
	switch {
	case line != pre+", sha256 "+sum:
		s.why = fmt.Errorf("header %q is not in canonical form", line)
	case cn != n:
		s.why = fmt.Errorf("header names copy %d, in the file of copy %d", cn, n)
	case size < 0 || size > len(rest) || !bytes.Equal(rest[size:], padding(len(rest)-size)) || len(b)%Slot != 0:
		s.why = fmt.Errorf("header says %d bytes; %d follow it, not padded to %d", size, len(rest), Slot)
	default:
		if want := checksum(pre, rest[:size]); sum != hex.EncodeToString(want[:]) {
			s.why = errors.New("checksum mismatch")
			break
		}
		s.intact, s.gen, s.data = true, gen, rest[:size]
	}
	return s
}

// newest returns which of the two copies (1 or 2) holds the newest
// intact version, or 0 when neither does. A legacy copy 1 counts only
// when copy 2 is not intact: the first write beside it goes to copy 2.
func newest(c1, c2 copyState) int {
	switch {
	case c1.intact && !c1.legacy && c2.intact:
		if c2.gen > c1.gen {
			return 2
		}
		return 1
	case c2.intact:
		return 2
	case c1.intact:
		return 1
	}
	return 0
}

// Newest returns the contents that [Read] returns on FAT, given the
// contents of PATH and PATH.2 (nil for a missing file), and whether
// there is an intact copy: for tests and tools that read a FAT image
// by other means (mtools).
func Newest(first, second []byte) ([]byte, bool) {
	c := [3]copyState{{}, {}, {}}
	if first != nil {
		c[1] = decode(1, first)
	}
	if second != nil {
		c[2] = decode(2, second)
	}
	i := newest(c[1], c[2])
	return c[i].data, i != 0
}

// load reads and decodes copy n of path.
func load(fsys fileSystem, path string, n int) copyState {
	b, err := fsys.ReadFile(copyName(path, n))
	if errors.Is(err, fs.ErrNotExist) {
		return copyState{why: errors.New("no such file")}
	}
	if err != nil {
		return copyState{exists: true, broken: true, why: err}
	}
	return decode(n, b)
}

func copyName(path string, n int) string {
	if n == 2 {
		return path + SecondSuffix
	}
	return path
}

// readCopies is Read on FAT.
func readCopies(fsys fileSystem, path string) ([]byte, error) {
	c := [3]copyState{{}, load(fsys, path, 1), load(fsys, path, 2)}
	if i := newest(c[1], c[2]); i != 0 {
		return c[i].data, nil
	}
	if !c[1].exists && !c[2].exists {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	return nil, fmt.Errorf("read %s: no intact copy (%s: %v; %s: %v): %w",
		path, filepath.Base(path), c[1].why, filepath.Base(path)+SecondSuffix, c[2].why, fs.ErrNotExist)
}

// writeCopy is Write on FAT: it overwrites in place the copy that does
// not hold the newest intact version, with the next generation. When
// neither copy is intact it writes copy 2, so that a torn first write
// never leaves copy 1 looking like a legacy file.
func writeCopy(fsys fileSystem, path string, data []byte, perm os.FileMode) error {
	c := [3]copyState{{}, load(fsys, path, 1), load(fsys, path, 2)}
	var gen uint64
	target := 2
	if i := newest(c[1], c[2]); i != 0 {
		gen = c[i].gen
		target = 3 - i
	}
	name := copyName(path, target)
	created := !c[target].exists
	if c[target].broken {
		// A copy that cannot be read (after a power cut, a directory
		// entry whose size the cluster chain does not reach: the kernel
		// says "request beyond EOF") cannot be written in place either:
		// start it afresh.
		if err := fsys.Remove(name); err != nil {
			return fmt.Errorf("write %s: remove the unreadable copy (%v): %w", name, c[target].why, err)
		}
		created = true
	}
	b := Encode(target, gen+1, data)
	err := overwrite(fsys, name, b, perm, created)
	if err != nil && !created {
		// A copy can read back intact and still have a cluster chain the
		// kernel cannot follow past its data after a power cut
		// ("fat_free: invalid cluster chain"): writing over it, or
		// cutting it, then fails (EIO). Start it afresh, as a broken
		// one: with errors=continue the unlink drops the entry even
		// when freeing its chain fails, and the new file gets new
		// clusters.
		if rerr := fsys.Remove(name); rerr != nil {
			err = fmt.Errorf("%w; removing it to write it afresh: %v", err, rerr)
		} else if werr := overwrite(fsys, name, b, perm, true); werr != nil {
			err = fmt.Errorf("%w; written afresh: %v", err, werr)
		} else {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// overwrite writes b over the file name from its start, cuts it to
// len(b) and syncs it, and the directory when created is set. Writing
// in place keeps the file's clusters: a copy of the same size changes
// only its data and its directory entry's times.
func overwrite(fsys fileSystem, name string, b []byte, perm os.FileMode, created bool) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if created {
		return fsys.SyncDir(filepath.Dir(name))
	}
	return nil
}
