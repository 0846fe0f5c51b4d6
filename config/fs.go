package config

import (
	"io/fs"
	"os"
	"path/filepath"
)

// FS is what the parser reads through: the config file itself and the
// files named by `include` and `confdir`. Names are passed through as
// written in the config file, so relative names are relative to whatever
// the implementation treats as its working directory.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern (filepath.Match syntax).
	Glob(pattern string) ([]string, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// OSFS is the FS of the operating system. Relative names are relative to
// the current working directory, as in chrony.
type OSFS struct{}

// ReadFile calls os.ReadFile.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Glob calls filepath.Glob.
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// ReadDir calls os.ReadDir.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
