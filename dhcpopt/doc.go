// Package dhcpopt lets clients on a LAN find the box's NTP service through
// DHCP option 42 (NTP servers, RFC 2132 §8.3).
//
// It works in one of three modes, all implemented by the pure [Handler]:
//
//   - inform: the LAN keeps its own DHCP server; the box only answers
//     DHCPINFORM (RFC 2131 §3.4) with the NTP servers, and [Snippet] prints
//     the lines an administrator pastes into the existing DHCP server.
//   - server: the box is the LAN's DHCPv4 server, leasing addresses from
//     a range.
//   - auto: the box answers DHCPINFORM, and leases short-lived addresses
//     only while no other DHCP server is seen. [DecideAuto] is that policy
//     as a pure function; [ProbeServers] searches for other servers, the
//     handler reports those that clients name ([Handler.TakeSightings]),
//     and [SaveServers] keeps the record across restarts.
//
// The handler takes typed values ([Config]); parsing the `dhcp` directive
// is package config's business.
//
// The layers follow the codec → policy → I/O split: [Handler.Handle] is a
// pure function of a decoded message, the time and the handler's lease
// state; [SaveLeases] and [LoadLeases] persist the leases; [Server] is a thin
// loop around a net.PacketConn built on server4.NewServer.
package dhcpopt
