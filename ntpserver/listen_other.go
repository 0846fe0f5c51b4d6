//go:build !linux

package ntpserver

func setReusePort(uintptr) error { return nil }

func noIPv6(error) bool { return false }

func enableRxInfo(uintptr, bool) error { return nil }
