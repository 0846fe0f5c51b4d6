//go:build !linux

package ntpserver

import (
	"errors"
	"net"
	"time"
)

// TxStamper is Linux's; elsewhere there are no kernel transmit timestamps.
type TxStamper struct{}

// EnableTxTimestamps fails outside Linux.
func EnableTxTimestamps(*net.UDPConn) (*TxStamper, error) {
	return nil, errors.New("kernel transmit timestamps: Linux only")
}

// Sent never has a timestamp.
func (*TxStamper) Sent() (time.Time, bool) { return time.Time{}, false }
