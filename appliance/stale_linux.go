//go:build linux

package appliance

import "github.com/ntpbox/ntpbox/internal/persist"

// RemoveStale removes the temporary files an interrupted write left in
// dir and below (see persist.RemoveStale).
func (l *Linux) RemoveStale(dir string) ([]string, error) { return persist.RemoveStale(dir) }
