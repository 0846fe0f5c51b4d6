//go:build !linux

package sandbox

import "errors"

// Apply is Linux only.
func Apply(services []string) error {
	if err := Check(services); err != nil {
		return err
	}
	return errors.New("sandbox: seccomp is Linux only")
}
