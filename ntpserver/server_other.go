//go:build !linux

package ntpserver

import "net"

func (s *Server) serveBatched(*net.UDPConn, *counters) (error, bool) { return nil, false }
