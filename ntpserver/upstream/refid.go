package upstream

import (
	"crypto/md5"
	"encoding/binary"
	"net/netip"
)

// RefID is the reference ID of an address as chrony and RFC 5905 compute
// it: the IPv4 address itself, or the first four octets of the MD5 of an
// IPv6 address.
func RefID(a netip.Addr) uint32 {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		return binary.BigEndian.Uint32(b[:])
	case a.Is6():
		b := a.As16()
		sum := md5.Sum(b[:])
		return binary.BigEndian.Uint32(sum[:4])
	}
	return 0
}
