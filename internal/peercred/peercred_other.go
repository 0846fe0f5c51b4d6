//go:build !linux

package peercred

import (
	"errors"
	"net"
)

// UID is not known on this system: callers refuse state changes.
func UID(net.Conn) (int, error) { return -1, errors.New("peer credentials: Linux only") }
