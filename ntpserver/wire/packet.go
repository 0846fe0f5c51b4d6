package wire

import (
	"encoding/binary"
	"errors"
)

// The NTP header (RFC 5905 §7.3), 48 octets, big endian:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Delay                            |  4
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Dispersion                       |  8
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Reference ID                         | 12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Reference Timestamp (64)                  | 16
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Origin Timestamp (64)                    | 24
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Receive Timestamp (64)                   | 32
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Transmit Timestamp (64)                  | 40
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	.                                                               .
//	.    Extension Fields (RFC 7822), then an optional MAC          . 48
//	.                                                               .
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	HeaderLen = 48

	OffFlags     = 0
	OffStratum   = 1
	OffPoll      = 2
	OffPrecision = 3
	OffRootDelay = 4
	OffRootDisp  = 8
	OffRefID     = 12
	OffRefTime   = 16
	OffOrigin    = 24
	OffReceive   = 32
	OffTransmit  = 40
)

// LocalRefID is the reference ID chrony serves when the `local` directive
// makes it serve its own clock: 127.127.1.1, the old ntpd local clock driver.
const LocalRefID = 0x7F7F0101

// MaxStratum is the stratum of an unsynchronised server (RFC 5905,
// section 7.3: 16 means unsynchronised; chrony sends it with leap 3).
// Stratum 0 is left to Kiss-o'-Death packets.
const MaxStratum = 16

// Mode is the association mode (RFC 5905 §7.3).
type Mode uint8

const (
	ModeReserved         Mode = 0
	ModeSymmetricActive  Mode = 1
	ModeSymmetricPassive Mode = 2
	ModeClient           Mode = 3
	ModeServer           Mode = 4
	ModeBroadcast        Mode = 5
	ModeControl          Mode = 6 // ntpq queries
	ModePrivate          Mode = 7 // ntpdc queries, including monlist
)

// Leap is the leap indicator.
type Leap uint8

const (
	LeapNone           Leap = 0
	LeapInsert         Leap = 1 // last minute of the day has 61 seconds
	LeapDelete         Leap = 2 // last minute of the day has 59 seconds
	LeapUnsynchronised Leap = 3 // clock not synchronised
)

func (l Leap) String() string {
	switch l {
	case LeapNone:
		return "none"
	case LeapInsert:
		return "insert"
	case LeapDelete:
		return "delete"
	default:
		return "unsynchronised"
	}
}

// Packet is a decoded NTP header. Extension fields and MAC stay in the
// buffer; see ParseExtensions.
type Packet struct {
	Leap           Leap
	Version        uint8
	Mode           Mode
	Stratum        uint8
	Poll           int8
	Precision      int8
	RootDelay      Short
	RootDispersion Short
	RefID          uint32
	RefTime        Time64
	Origin         Time64
	Receive        Time64
	Transmit       Time64
}

// ErrShort is returned for a buffer shorter than an NTP header.
var ErrShort = errors.New("ntp: packet shorter than 48 octets")

// Decode fills p from the first 48 octets of b. It validates nothing but
// the length: policy (which modes and versions to answer) lives in Respond.
func (p *Packet) Decode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	_ = b[HeaderLen-1]
	p.Leap = Leap(b[OffFlags] >> 6)
	p.Version = (b[OffFlags] >> 3) & 7
	p.Mode = Mode(b[OffFlags] & 7)
	p.Stratum = b[OffStratum]
	p.Poll = int8(b[OffPoll])
	p.Precision = int8(b[OffPrecision])
	p.RootDelay = Short(binary.BigEndian.Uint32(b[OffRootDelay:]))
	p.RootDispersion = Short(binary.BigEndian.Uint32(b[OffRootDisp:]))
	p.RefID = binary.BigEndian.Uint32(b[OffRefID:])
	p.RefTime = Time64(binary.BigEndian.Uint64(b[OffRefTime:]))
	p.Origin = Time64(binary.BigEndian.Uint64(b[OffOrigin:]))
	p.Receive = Time64(binary.BigEndian.Uint64(b[OffReceive:]))
	p.Transmit = Time64(binary.BigEndian.Uint64(b[OffTransmit:]))
	return nil
}

// Encode writes the 48-octet header into b, which must be at least that
// long, and returns HeaderLen.
func (p *Packet) Encode(b []byte) int {
	_ = b[HeaderLen-1]
	b[OffFlags] = byte(p.Leap&3)<<6 | (p.Version&7)<<3 | byte(p.Mode&7)
	b[OffStratum] = p.Stratum
	b[OffPoll] = byte(p.Poll)
	b[OffPrecision] = byte(p.Precision)
	binary.BigEndian.PutUint32(b[OffRootDelay:], uint32(p.RootDelay))
	binary.BigEndian.PutUint32(b[OffRootDisp:], uint32(p.RootDispersion))
	binary.BigEndian.PutUint32(b[OffRefID:], p.RefID)
	binary.BigEndian.PutUint64(b[OffRefTime:], uint64(p.RefTime))
	binary.BigEndian.PutUint64(b[OffOrigin:], uint64(p.Origin))
	binary.BigEndian.PutUint64(b[OffReceive:], uint64(p.Receive))
	binary.BigEndian.PutUint64(b[OffTransmit:], uint64(p.Transmit))
	return HeaderLen
}

// PutTransmit overwrites the transmit timestamp of an encoded packet. The
// server calls it as late as possible, just before the send.
func PutTransmit(b []byte, t Time64) {
	binary.BigEndian.PutUint64(b[OffTransmit:], uint64(t))
}

// RefIDString renders a reference ID the way chronyc and ntpq do: as four
// ASCII characters for stratum 0 and 1 (kiss codes and reference clocks),
// as a dotted quad otherwise.
func RefIDString(stratum uint8, id uint32) string {
	if stratum <= 1 {
		b := []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		n := len(b)
		for n > 0 && b[n-1] == 0 {
			n--
		}
		for _, c := range b[:n] {
			if c < 0x20 || c > 0x7e {
				return refIDQuad(id)
			}
		}
		return string(b[:n])
	}
	return refIDQuad(id)
}

func refIDQuad(id uint32) string {
	return itoa(id>>24) + "." + itoa(id>>16&0xff) + "." + itoa(id>>8&0xff) + "." + itoa(id&0xff)
}

func itoa(v uint32) string {
	if v == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// KissCode packs a four-letter kiss code ("RATE", "DENY") as a reference ID.
func KissCode(s string) uint32 {
	var b [4]byte
	copy(b[:], s)
	return binary.BigEndian.Uint32(b[:])
}
