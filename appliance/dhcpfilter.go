package appliance

import "golang.org/x/net/bpf"

// dhcpClientFilter is the socket filter of init's DHCP client (issue 11:
// PID 1 parses nothing from the LAN it does not need). The client's
// packet socket (SOCK_DGRAM, ETH_P_IP: data from the IP header on) then
// wakes init only for unfragmented UDP datagrams to port 68, instead of
// every IPv4 packet on the LAN.
var dhcpClientFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 9, Size: 1},                           // IP protocol
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 6},    // not UDP: drop
	bpf.LoadAbsolute{Off: 6, Size: 2},                           // flags and fragment offset
	bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 4}, // MF set or an offset: drop
	bpf.LoadMemShift{Off: 0},                                    // X = IP header length
	bpf.LoadIndirect{Off: 2, Size: 2},                           // UDP destination port
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 68, SkipTrue: 1},    // not the client port: drop
	bpf.RetConstant{Val: 1 << 16},                               // keep the whole datagram
	bpf.RetConstant{Val: 0},                                     // drop
}

// assembledDHCPClientFilter is dhcpClientFilter for the socket.
func assembledDHCPClientFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble(dhcpClientFilter)
}
