// Package persist keeps the small state files ntpbox writes (the drift
// file, DHCP leases, the random seed) so that a power cut at any moment
// leaves either the old contents or the new, never garbage and never
// nothing once a version was written.
//
// On most file systems a rename is atomic, and [Write] replaces the file
// as [atomicfile.Write] does: a temporary file, fsync, rename, fsync of
// the directory. The file stays at its path in its own format, so a
// host's drift file is still chrony's.
//
// On FAT (the appliance's /perm, or a USB stick) a rename is not atomic:
// it writes a new directory entry and deletes the old one in separate
// sector writes, and a crash between them loses the file or leaves two
// entries sharing clusters. There [Write] keeps two copies, PATH and
// PATH.2, each a text header line, the contents, and padding (a line
// of spaces) to a multiple of [Slot] bytes:
//
//	# ntpbox copy 1 of 2, generation 17, 42 bytes, sha256 9f86d0…(64 hex digits)
//	   -11.251233             0.034567
//	#                                      …
//
// The checksum covers the header's text before ", sha256" and a newline,
// then the contents. [Write] overwrites, in place, the copy that does
// not hold the newest intact version (then fsyncs it, and the directory
// when it created the file); [Read] returns the intact copy with the
// highest generation. A torn write can only damage the copy being
// written, which the checksum then rejects. The padding keeps a copy's
// size, so that a rewrite changes no cluster chain: vfat's fsync writes
// the directory entry before the FAT, and a power cut between them
// leaves a file whose size its chain does not reach, which the kernel
// cannot read ("request beyond EOF"). [Write] removes such a copy and
// writes it afresh (mount with errors=continue, or the first read of it
// makes the whole file system read-only). The copy PATH keeps the
// file's name, so a person looking at the partition finds it where
// they expect it; PATH.2 is named after the copy number in its header.
//
// What this assumes of the disk: a sector it rewrites with the same
// bytes stays intact (a directory sector holds both copies' entries).
//
// Example:
//
//	if err := persist.Write("/perm/ntpbox.drift", []byte("  -11.25 0.03\n"), 0o644); err != nil {
//		return err
//	}
//	b, err := persist.Read("/perm/ntpbox.drift") // errors.Is(err, fs.ErrNotExist) when none
package persist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ntpbox/ntpbox/internal/atomicfile"
)

// SecondSuffix names the second copy on FAT: PATH + SecondSuffix.
const SecondSuffix = ".2"

// Read returns the contents of path as [Write] last stored them. When
// there are none it returns an error that matches fs.ErrNotExist; on
// FAT that includes copies that are all torn (the message says why).
func Read(path string) ([]byte, error) {
	if c := remote.Load(); c != nil {
		return c.do(opRead, path, nil)
	}
	return readLocal(path)
}

// Write stores data at path so that a power cut leaves the old or the
// new contents (see the package doc); perm is the mode of a new file.
func Write(path string, data []byte, perm os.FileMode) error {
	if c := remote.Load(); c != nil {
		_, err := c.do(opWrite, path, data)
		return err
	}
	return writeLocal(path, data, perm)
}

func readLocal(path string) ([]byte, error) { return osFS{}.read(path) }

func writeLocal(path string, data []byte, perm os.FileMode) error {
	return osFS{}.write(path, data, perm)
}

// Remove removes path and, on FAT, its second copy. A missing file is
// not an error.
func Remove(path string) error {
	if c := remote.Load(); c != nil {
		_, err := c.do(opRemove, path, nil)
		return err
	}
	return removeLocal(path)
}

func removeLocal(path string) error {
	var errs []error
	for _, p := range []string{path, path + SecondSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fileSystem is what Read and Write do to files on FAT: the OS, or in
// tests a fake that cuts the power after any step.
type fileSystem interface {
	ReadFile(name string) ([]byte, error)
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
	Remove(name string) error
	SyncDir(dir string) error
	// IsFAT reports whether dir is on a FAT file system.
	IsFAT(dir string) (bool, error)
}

type file interface {
	WriteAt(b []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	return os.OpenFile(name, flag, perm)
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (osFS) IsFAT(dir string) (bool, error) { return isFAT(dir) }

func (o osFS) read(path string) ([]byte, error) {
	fat, err := o.IsFAT(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fat {
		return os.ReadFile(path)
	}
	return readCopies(o, path)
}

func (o osFS) write(path string, data []byte, perm os.FileMode) error {
	fat, err := o.IsFAT(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !fat {
		return atomicfile.Write(path, data, perm)
	}
	return writeCopy(o, path, data, perm)
}
