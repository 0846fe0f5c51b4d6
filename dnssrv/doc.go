// Package dnssrv is an authoritative DNS responder for one zone that lets
// clients find the box's NTP service by name:
//
//	_ntp._udp.ZONE.  SRV  10 10 123 ntp1.ZONE.   (one per advertised server)
//	ntp1.ZONE.       A    198.18.0.2            (AAAA for IPv6 servers)
//	ZONE.            SOA  ns.ZONE. hostmaster.ZONE. ...
//	ZONE.            NS   ns.ZONE.
//
// It answers only for that zone: REFUSED for other names, no recursion
// (RA clear), AA set, NXDOMAIN and NODATA with the SOA in the authority
// section (RFC 2308), EDNS(0), and truncation on UDP when the answer does
// not fit. [Responder] is a dns.Handler dispatching on a private
// dns.ServeMux; run it with dns.Server on UDP and with [TCPServer] on
// TCP, which bounds what a client on the LAN can make the box hold: at
// most 64 connections, a few seconds of idleness, queries of at most 512
// bytes, and an accept loop that backs off instead of spinning on EMFILE:
//
//	ln, _ := net.Listen("tcp", "198.18.0.2:53")
//	s := dnssrv.NewTCPServer(ln, responder, dnssrv.TCPConfig{})
//	go s.Serve()
//	defer s.Close()
package dnssrv
