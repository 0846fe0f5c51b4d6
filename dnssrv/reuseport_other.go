//go:build !linux

package dnssrv

import "syscall"

const soReusePort = syscall.SO_REUSEPORT
