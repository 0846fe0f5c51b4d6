//go:build !linux

package control

import (
	"errors"
	"net"
)

func peerUID(net.Conn) (int, error) { return -1, errors.New("peer credentials: Linux only") }
