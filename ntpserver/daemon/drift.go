package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/ntpbox/ntpbox/internal/persist"
)

// The drift file holds the clock's frequency correction so a restart does
// not relearn it, in chrony's format: the correction in ppm and its error
// bound, on one line. On FAT (the appliance's /perm) it is kept as two
// checksummed copies that survive a power cut (package persist).

// readDrift returns the frequency in the drift file at path. A missing
// file is not an error (ok false); a malformed one is, naming the file.
func readDrift(path string) (ppm float64, ok bool, err error) {
	b, err := persist.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
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
	if err != nil || !(ppm >= -500 && ppm <= 500) { // NaN too: it would poison the clock's frequency
		return 0, false, fmt.Errorf("drift file %s: %q is not a frequency in ppm (-500..500)", path, f[0])
	}
	return ppm, true, nil
}

// writeDrift replaces the drift file so that a crash, a power cut or a
// full disk leaves the old file intact.
func writeDrift(path string, ppm, skew float64) error {
	if err := persist.Write(path, fmt.Appendf(nil, "%20.6f %20.6f\n", ppm, skew), 0o644); err != nil {
		return fmt.Errorf("drift file: %w", err)
	}
	return nil
}
