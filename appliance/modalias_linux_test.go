//go:build linux

package appliance

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// modaliases reads the same modaliases as globbing sysfs, on this host.
func TestModaliasesLikeGlob(t *testing.T) {
	files, err := filepath.Glob("/sys/bus/*/devices/*/modalias")
	if err != nil || len(files) == 0 {
		t.Fatalf("this host's sysfs has no modalias files (%v): the test needs /sys", err)
	}
	var want []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			want = append(want, string(bytes.TrimSpace(b)))
		}
	}
	got := modaliases()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("modaliases() = %d entries, glob %d:\n%q\n%q", len(got), len(want), got, want)
	}
}
