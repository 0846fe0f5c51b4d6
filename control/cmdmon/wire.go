package cmdmon

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"
)

// This file has chrony's field encodings (candm.h, util.c): Float,
// Timespec and IPAddr, all big-endian.

// Float is chrony's 32-bit floating point format: a 7-bit signed
// exponent above a 25-bit signed coefficient, the value being
// coef * 2^(exp-25).
const (
	floatExpBits  = 7
	floatCoefBits = 32 - floatExpBits
	floatExpMin   = -(1 << (floatExpBits - 1))
	floatExpMax   = -floatExpMin - 1
	floatCoefMin  = -(1 << (floatCoefBits - 1))
	floatCoefMax  = -floatCoefMin - 1
)

// EncodeFloat converts x to chrony's Float as UTI_FloatHostToNetwork
// does: NaN becomes 0, magnitudes beyond 1e100 saturate, tiny ones
// become 0 or a denormal.
func EncodeFloat(x float64) uint32 {
	neg := int32(0)
	switch {
	case x < 0:
		x, neg = -x, 1
	case x >= 0:
	default: // NaN
		x = 0
	}
	var exp, coef int32
	switch {
	case x < 1e-100:
	case x > 1e100:
		exp, coef = floatExpMax, floatCoefMax+neg
	default:
		exp = int32(math.Log(x)/math.Log(2)) + 1
		coef = int32(x*math.Pow(2, float64(-exp+floatCoefBits)) + 0.5)
		for coef > floatCoefMax+neg { // at most two bits too many
			coef >>= 1
			exp++
		}
		if exp > floatExpMax {
			exp, coef = floatExpMax, floatCoefMax+neg
		} else if exp < floatExpMin {
			if exp+floatCoefBits >= floatExpMin {
				coef >>= floatExpMin - exp
				exp = floatExpMin
			} else {
				exp, coef = 0, 0
			}
		}
	}
	c := uint32(coef)
	if neg != 0 {
		c = uint32(-coef) << floatExpBits >> floatExpBits
	}
	return uint32(exp)<<floatCoefBits | c
}

// DecodeFloat is UTI_FloatNetworkToHost.
func DecodeFloat(f uint32) float64 {
	exp := int32(f >> floatCoefBits)
	if exp >= 1<<(floatExpBits-1) {
		exp -= 1 << floatExpBits
	}
	exp -= floatCoefBits
	coef := int32(f % (1 << floatCoefBits))
	if coef >= 1<<(floatCoefBits-1) {
		coef -= 1 << floatCoefBits
	}
	return float64(coef) * math.Pow(2, float64(exp))
}

func putFloat(b []byte, x float64) { binary.BigEndian.PutUint32(b, EncodeFloat(x)) }

// timespecLen is the size of chrony's Timespec: seconds high and low
// words, nanoseconds.
const timespecLen = 12

// putTimespec writes t as chrony's Timespec (UTI_TimespecHostToNetwork
// with a 64-bit time_t). The zero time.Time is the Unix epoch, which is
// what chronyd reports for a reference time it does not have.
func putTimespec(b []byte, t time.Time) {
	var sec int64
	var nsec int
	if !t.IsZero() {
		sec, nsec = t.Unix(), t.Nanosecond()
	}
	binary.BigEndian.PutUint32(b[0:], uint32(uint64(sec)>>32))
	binary.BigEndian.PutUint32(b[4:], uint32(sec))
	binary.BigEndian.PutUint32(b[8:], uint32(nsec))
}

// IPAddr families (addressing.h).
const (
	familyUnspec = 0
	familyInet4  = 1
	familyInet6  = 2
	familyID     = 3 // a source without an address yet, by index
)

// ipAddrLen is the size of chrony's IPAddr: 16 address bytes, the
// family, 2 bytes of padding.
const ipAddrLen = 20

// putIPAddr writes a as chrony's IPAddr: IPv4 in the first 4 bytes,
// IPv6 in all 16, UNSPEC for the zero Addr.
func putIPAddr(b []byte, a netip.Addr) {
	clear(b[:ipAddrLen])
	a = a.Unmap()
	switch {
	case a.Is4():
		v4 := a.As4()
		copy(b, v4[:])
		binary.BigEndian.PutUint16(b[16:], familyInet4)
	case a.Is6():
		v6 := a.As16()
		copy(b, v6[:])
		binary.BigEndian.PutUint16(b[16:], familyInet6)
	}
}

// putIPID writes chrony's IPAddr of family ID: how chronyd names a
// source whose address is not known yet.
func putIPID(b []byte, id uint32) {
	clear(b[:ipAddrLen])
	binary.BigEndian.PutUint32(b, id)
	binary.BigEndian.PutUint16(b[16:], familyID)
}

// getIPAddr reads chrony's IPAddr: the address for INET4 and INET6, the
// number for ID; any other family reads as UNSPEC, as in chronyd.
func getIPAddr(b []byte) (a netip.Addr, id uint32, family uint16) {
	family = binary.BigEndian.Uint16(b[16:])
	switch family {
	case familyInet4:
		return netip.AddrFrom4([4]byte(b[:4])), 0, family
	case familyInet6:
		return netip.AddrFrom16([16]byte(b[:16])), 0, family
	case familyID:
		return netip.Addr{}, binary.BigEndian.Uint32(b), family
	}
	return netip.Addr{}, 0, familyUnspec
}
