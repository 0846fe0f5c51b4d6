//go:build !linux

package persist

// isFAT is false where there is no statfs to ask: the temporary file and
// rename are used.
func isFAT(dir string) (bool, error) { return false, nil }
