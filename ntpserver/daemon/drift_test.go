package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDriftRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "drift")
	if _, ok, err := readDrift(p); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
	if err := writeDrift(p, -12.345678, 0.25); err != nil {
		t.Fatal(err)
	}
	ppm, ok, err := readDrift(p)
	if !ok || err != nil || ppm != -12.345678 {
		t.Fatalf("read back %v %v %v", ppm, ok, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestDriftMalformed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "drift")
	for _, bad := range []string{"", "abc 1", "900 0"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, _, err := readDrift(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: err %v, want one naming the file", bad, err)
		}
	}
}

func TestDriftWriteFailureLeavesNoDebris(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: the final rename fails, as a
	// write to a full or broken disk would, even for root.
	p := filepath.Join(dir, "drift")
	os.MkdirAll(filepath.Join(p, "keep"), 0o755)
	err := writeDrift(p, 9, 0)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err %v, want one naming %s", err, p)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}
