package daemon

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDriftFile: reading any drift file never panics; what it accepts is
// a frequency within ±500 ppm that survives a write and a read.
func FuzzDriftFile(f *testing.F) {
	f.Add([]byte("           -12.345678             0.123456\n"))
	f.Add([]byte("1e3 0\n"))
	f.Add([]byte("NaN\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "drift")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ppm, ok, err := readDrift(path)
		if err != nil || !ok {
			return
		}
		if math.IsNaN(ppm) || ppm < -500 || ppm > 500 {
			t.Fatalf("accepted %v ppm", ppm)
		}
		if err := writeDrift(path, ppm, 0); err != nil {
			t.Fatal(err)
		}
		again, ok, err := readDrift(path)
		if err != nil || !ok || math.Abs(again-ppm) > 1e-6 {
			t.Fatalf("wrote %v, read %v %v %v", ppm, again, ok, err)
		}
	})
}
