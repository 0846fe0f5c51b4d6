//go:build linux

package persist

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// isFAT reports whether dir is on a FAT file system (vfat or msdos:
// both report MSDOS_SUPER_MAGIC).
func isFAT(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Type == unix.MSDOS_SUPER_MAGIC, nil
}
