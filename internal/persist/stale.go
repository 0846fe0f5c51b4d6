package persist

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// staleName matches the temporary files [atomicfile.Write] creates
// (".NAME.tmp" and os.CreateTemp's decimal suffix) and leaves behind
// when the power goes before its rename. The two copies on FAT need
// no temporary files.
var staleName = regexp.MustCompile(`^\..+\.tmp[0-9]+$`)

// RemoveStale removes, in dir and the directories below it, the
// temporary files that an interrupted write left, and returns their
// paths. It goes on past errors and returns them all.
func RemoveStale(dir string) (removed []string, err error) {
	var errs []error
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if !d.Type().IsRegular() || !staleName.MatchString(d.Name()) {
			return nil
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
			return nil
		}
		removed = append(removed, p)
		return nil
	})
	return removed, errors.Join(errs...)
}
