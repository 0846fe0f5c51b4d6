package cmdmon

import "encoding/binary"

// Request is a decoded cmdmon request header; Data is what follows it,
// padding included.
type Request struct {
	Version  uint8
	Command  uint16
	Attempt  uint16
	Sequence [4]byte // echoed as sent: chrony treats it as opaque
	Data     []byte
}

// Verdict is what to do with a datagram before any command runs.
type Verdict uint8

const (
	// Accept: a request of this version, of a known type, long enough.
	Accept Verdict = iota
	// Drop silently: too short or too long to answer without replying
	// with more than was sent, not a request, reserved bytes set, or a
	// version too old to understand a mismatch (chronyd's checks).
	Drop
	// BadVersion: answer STT_BADPKTVERSION (version 5 and later).
	BadVersion
	// Invalid: answer STT_INVALID (unknown or retired request type).
	Invalid
	// BadLength: answer STT_BADPKTLENGTH (shorter than the type with
	// its padding).
	BadLength
)

// DecodeRequest decodes b and judges it as chronyd's read_from_cmd_socket
// does, in the same order. For any verdict but Drop the header fields of
// r are valid. It does not allocate: r.Data aliases b.
func DecodeRequest(b []byte) (r Request, v Verdict) {
	// A reply header is 28 bytes: a shorter request cannot even be told
	// it is wrong without amplifying.
	if len(b) < requestHeaderLen || len(b) < replyHeaderLen || len(b) > MaxRequestLen {
		return r, Drop
	}
	if b[1] != pktTypeRequest || b[2] != 0 || b[3] != 0 {
		return r, Drop
	}
	r = Request{
		Version:  b[0],
		Command:  binary.BigEndian.Uint16(b[4:]),
		Attempt:  binary.BigEndian.Uint16(b[6:]),
		Sequence: [4]byte(b[8:12]),
		Data:     b[requestHeaderLen:],
	}
	switch {
	case r.Version != protoVersion && r.Version >= protoVersionMismatchCompat:
		return r, BadVersion
	case r.Version != protoVersion:
		return r, Drop
	}
	want := RequestLen(int(r.Command))
	switch {
	case want == 0:
		return r, Invalid
	case len(b) < want:
		return r, BadLength
	}
	return r, Accept
}
