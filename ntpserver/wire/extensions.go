package wire

import (
	"encoding/binary"
	"errors"
)

// Limits on what follows the header. They bound the work and memory one
// packet can cost; they are generous enough for NTS (RFC 8915) requests,
// whose cookies and placeholders stay well under 1 KiB.
const (
	// MaxExtensionsLen is the most octets of extension fields accepted
	// after the header (chrony uses the same bound).
	MaxExtensionsLen = 1024
	// MaxExtensions is the most extension fields in one packet.
	MaxExtensions = 32
	// MinExtensionLen is the smallest legal field (RFC 7822 §3).
	MinExtensionLen = 16
	// MaxMACLen is the longest legacy MAC: a 4-octet key ID and a digest
	// of up to 64 octets (chrony's limit, for SHA-512 keys).
	MaxMACLen = 4 + 64
	// MaxPacketLen is the longest NTP packet accepted at all.
	MaxPacketLen = HeaderLen + MaxExtensionsLen + MaxMACLen
)

// Errors from ParseExtensions.
var (
	ErrTooLong       = errors.New("ntp: packet longer than the extension-field limit")
	ErrBadExtension  = errors.New("ntp: malformed extension field")
	ErrTooManyFields = errors.New("ntp: too many extension fields")
	ErrBadMAC        = errors.New("ntp: trailing octets are neither an extension field nor a MAC")
)

// Extension is one extension field: its type and its value (the field
// without the 4-octet type/length prefix, padding included). Value aliases
// the packet buffer.
type Extension struct {
	Type  uint16
	Value []byte
}

// Extensions describes the octets after the header of a valid packet.
type Extensions struct {
	// Count is the number of extension fields.
	Count int
	// FieldsEnd is the offset just past the last field (HeaderLen when
	// there are none); a MAC, if any, runs from there to the end.
	FieldsEnd int
	// MACLen is the length of the legacy MAC (0 when there is none; 4 is a
	// crypto-NAK, a key ID with no digest).
	MACLen int
}

// ParseExtensions validates the layout of everything after the 48-octet
// header of b. Version 4 packets may carry RFC 7822 extension fields
// (type, length, value; length a multiple of 4 and at least 16) followed
// by an optional MAC; earlier versions may carry only a MAC (4 octets for
// a crypto-NAK, otherwise a key ID and a 16..64-octet digest). In version
// 4, as RFC 7822 prescribes, a remainder of exactly 4, 20 or 24 octets is
// the MAC (a last field without MAC is longer). It does not allocate; use
// NextExtension to walk the fields.
func ParseExtensions(b []byte, version uint8) (Extensions, error) {
	var e Extensions
	if len(b) < HeaderLen {
		return e, ErrShort
	}
	if len(b) > MaxPacketLen {
		return e, ErrTooLong
	}
	off := HeaderLen
	if version < 4 {
		// Before version 4 only a MAC may follow the header.
		if rest := len(b) - off; rest > 0 {
			if rest != 4 && (rest < 20 || rest > MaxMACLen || rest%4 != 0) {
				return e, ErrBadMAC
			}
			e.MACLen = rest
		}
		e.FieldsEnd = off
		return e, nil
	}
	for off < len(b) {
		if rest := len(b) - off; rest == 4 || rest == 20 || rest == 24 {
			e.MACLen = rest
			break
		}
		n, err := fieldLen(b[off:])
		if err != nil {
			return e, err
		}
		if e.Count == MaxExtensions {
			return e, ErrTooManyFields
		}
		e.Count++
		off += n
		if off-HeaderLen > MaxExtensionsLen {
			return e, ErrTooLong
		}
	}
	e.FieldsEnd = off
	return e, nil
}

// fieldLen returns the length of the extension field at the start of b.
func fieldLen(b []byte) (int, error) {
	if len(b) < MinExtensionLen {
		return 0, ErrBadExtension
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < MinExtensionLen || n%4 != 0 || n > len(b) {
		return 0, ErrBadExtension
	}
	return n, nil
}

// NextExtension returns the extension field at offset off of a packet
// that ParseExtensions accepted, and the offset of the next one. Start
// with off = HeaderLen; stop when off reaches Extensions.FieldsEnd.
func NextExtension(b []byte, off int) (Extension, int) {
	n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
	return Extension{
		Type:  binary.BigEndian.Uint16(b[off : off+2]),
		Value: b[off+4 : off+n],
	}, off + n
}

// AppendExtension appends one field with the given type and value, padded
// with zeros to a multiple of 4 and to the minimum field length.
func AppendExtension(b []byte, typ uint16, value []byte) []byte {
	n := 4 + len(value)
	if n < MinExtensionLen {
		n = MinExtensionLen
	}
	n = (n + 3) &^ 3
	var hdr [4]byte
	binary.BigEndian.PutUint16(hdr[0:], typ)
	binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	b = append(b, hdr[:]...)
	b = append(b, value...)
	for i := 4 + len(value); i < n; i++ {
		b = append(b, 0)
	}
	return b
}
