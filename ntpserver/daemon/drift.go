package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The drift file holds the clock's frequency correction so a restart does
// not relearn it, in chrony's format: the correction in ppm and its error
// bound, on one line.

// readDrift returns the frequency in the drift file at path. A missing
// file is not an error (ok false); a malformed one is, naming the file.
func readDrift(path string) (ppm float64, ok bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read drift file: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 0, false, fmt.Errorf("drift file %s: empty", path)
	}
	ppm, err = strconv.ParseFloat(f[0], 64)
	if err != nil || ppm < -500 || ppm > 500 {
		return 0, false, fmt.Errorf("drift file %s: %q is not a frequency in ppm (-500..500)", path, f[0])
	}
	return ppm, true, nil
}

// writeDrift replaces the drift file atomically: the new contents go to a
// temporary file in the same directory, are synced, and renamed over the
// old one, so a crash or a full disk leaves the old file intact.
func writeDrift(path string, ppm, skew float64) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".drift-*")
	if err != nil {
		return fmt.Errorf("write drift file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = fmt.Fprintf(tmp, "%20.6f %20.6f\n", ppm, skew)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write drift file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
