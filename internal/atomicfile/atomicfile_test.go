package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	for _, s := range []string{"one\n", "two\n"} {
		if err := Write(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Errorf("read %q, want %q", b, s)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// A directory where the file should be makes the final rename fail, as a
// broken disk would, even for root: the error names the path and nothing
// is left behind.
func TestWriteFailureLeavesNoDebris(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	os.MkdirAll(filepath.Join(p, "keep"), 0o755)
	err := Write(p, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err %v, want one naming %s", err, p)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(p, "keep")); err != nil {
		t.Errorf("old contents lost: %v", err)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "state")
	if err := Write(p, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("err %v, want one naming %s", err, p)
	}
}
