package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// testFile is the name ParseBytes is given in the tests.
const testFile = "test.conf"

// mustParse parses text and fails the test on any error.
func mustParse(t *testing.T, text string) (*Config, []Warning) {
	t.Helper()
	cfg, warnings, err := ParseBytes(testFile, []byte(text))
	if err != nil {
		t.Fatalf("ParseBytes(%q): unexpected error: %v", text, err)
	}
	if cfg == nil {
		t.Fatalf("ParseBytes(%q): nil Config without error", text)
	}
	return cfg, warnings
}

// wantError parses text and checks that the first *Error is on line of
// testFile, names directive and contains every one of contains.
func wantError(t *testing.T, text string, line int, directive string, contains ...string) *Error {
	t.Helper()
	cfg, _, err := ParseBytes(testFile, []byte(text))
	return checkError(t, cfg, err, Origin{Layer: LayerFile, File: testFile, Line: line}, directive, contains...)
}

func checkError(t *testing.T, cfg *Config, err error, origin Origin, directive string, contains ...string) *Error {
	t.Helper()
	if cfg != nil {
		t.Errorf("got a Config with error %v, want nil", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want an *Error", err, err)
	}
	prefix := fmt.Sprintf("%s: %s: ", origin, directive)
	if !strings.HasPrefix(e.Error(), prefix) {
		t.Errorf("error %q does not start with %q", e.Error(), prefix)
	}
	for _, c := range contains {
		if !strings.Contains(e.Error(), c) {
			t.Errorf("error %q does not contain %q", e.Error(), c)
		}
	}
	return e
}

// mapFS is an FS over an in-memory file tree. Names may be absolute
// ("/etc/ntpbox.conf") or relative; both map to the same fstest.MapFS key.
type mapFS fstest.MapFS

func files(nameContents ...string) mapFS {
	m := mapFS{}
	for i := 0; i+1 < len(nameContents); i += 2 {
		key, _ := mapKey(nameContents[i])
		m[key] = &fstest.MapFile{Data: []byte(nameContents[i+1])}
	}
	return m
}

func mapKey(name string) (key string, abs bool) {
	key = strings.TrimPrefix(path.Clean(name), "/")
	if key == "" {
		key = "."
	}
	return key, strings.HasPrefix(name, "/")
}

func (m mapFS) ReadFile(name string) ([]byte, error) {
	key, _ := mapKey(name)
	return fs.ReadFile(fstest.MapFS(m), key)
}

func (m mapFS) Glob(pattern string) ([]string, error) {
	key, abs := mapKey(pattern)
	names, err := fs.Glob(fstest.MapFS(m), key)
	if abs {
		for i := range names {
			names[i] = "/" + names[i]
		}
	}
	return names, err
}

func (m mapFS) ReadDir(name string) ([]fs.DirEntry, error) {
	key, _ := mapKey(name)
	return fs.ReadDir(fstest.MapFS(m), key)
}
