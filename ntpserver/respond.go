package ntpserver

import (
	"encoding/binary"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// Drop says why a request got no answer. Policy returns it; the server
// counts it. DropNone means "answer".
type Drop uint8

const (
	DropNone         Drop = iota
	DropShort             // shorter than a header
	DropTooLong           // longer than any legitimate request
	DropVersion           // version 0 or above 4
	DropMode              // not a client request: symmetric, server, broadcast
	DropControl           // mode 6 (ntpq) or 7 (ntpdc, monlist): never answered
	DropZeroTransmit      // transmit timestamp zero: not a usable request
	DropMalformed         // extension fields or MAC malformed
	DropDenied            // source not allowed by allow/deny
	DropRateLimited       // over its rate limit and not leaked
	DropBadSource         // source address or port cannot be answered
	DropBadDest           // sent to a broadcast or multicast address
	numDrops
)

var dropNames = [numDrops]string{
	"answered", "short", "too long", "bad version", "unsupported mode",
	"control query", "zero transmit timestamp", "malformed",
	"denied", "rate limited", "bad source", "broadcast destination",
}

func (d Drop) String() string {
	if d < numDrops {
		return dropNames[d]
	}
	return "unknown"
}

// Respond is the server's policy: given a request as received, its
// receive timestamp and the state to serve, it writes the reply into out
// (which must hold HeaderLen octets) and returns its length, or returns 0
// and the reason to stay silent. kiss, when non-zero, turns the reply into
// a Kiss-o'-Death with that code (RATE for rate limiting).
//
// Respond answers only client-mode requests of versions 1 to 4, with the
// request's version and server mode. Its reply is always the 48-octet
// header, never longer than the request. The transmit timestamp is left
// for the caller to fill (PutTransmit) as late as possible. It does not
// allocate.
func Respond(out, req []byte, rx wire.Time64, st *SyncState, kiss uint32) (int, Drop) {
	if d := Classify(req); d != DropNone {
		return 0, d
	}
	return fill(out, req, rx, st, kiss), DropNone
}

// fill writes the reply to a request that Classify accepted.
func fill(out, req []byte, rx wire.Time64, st *SyncState, kiss uint32) int {
	version := (req[wire.OffFlags] >> 3) & 7
	poll := int8(req[wire.OffPoll])
	if poll < -7 || poll > 24 {
		poll = 6
	}
	_ = out[wire.HeaderLen-1]
	leap, stratum, refID := st.Leap, st.Stratum, st.RefID
	ref, disp := st.header(rx)
	delay := wire.DurationToShort(st.RootDelay)
	if st.Leap == wire.LeapUnsynchronised {
		stratum, refID, ref, delay, disp = wire.MaxStratum, 0, 0, 0, 0
	}
	if kiss != 0 {
		leap, stratum, refID, ref, delay, disp = wire.LeapUnsynchronised, 0, kiss, 0, 0, 0
	}
	out[wire.OffFlags] = byte(leap&3)<<6 | version<<3 | byte(wire.ModeServer)
	out[wire.OffStratum] = stratum
	out[wire.OffPoll] = byte(poll)
	out[wire.OffPrecision] = byte(st.Precision)
	binary.BigEndian.PutUint32(out[wire.OffRootDelay:], uint32(delay))
	binary.BigEndian.PutUint32(out[wire.OffRootDisp:], uint32(disp))
	binary.BigEndian.PutUint32(out[wire.OffRefID:], refID)
	binary.BigEndian.PutUint64(out[wire.OffRefTime:], uint64(ref))
	copy(out[wire.OffOrigin:wire.OffOrigin+8], req[wire.OffTransmit:wire.OffTransmit+8])
	binary.BigEndian.PutUint64(out[wire.OffReceive:], uint64(rx))
	binary.BigEndian.PutUint64(out[wire.OffTransmit:], 0)
	return wire.HeaderLen
}

// Classify decides whether req is a request this server answers at all,
// before access control and rate limiting.
func Classify(req []byte) Drop {
	if len(req) < wire.HeaderLen {
		return DropShort
	}
	if len(req) > wire.MaxPacketLen {
		return DropTooLong
	}
	version := (req[wire.OffFlags] >> 3) & 7
	mode := wire.Mode(req[wire.OffFlags] & 7)
	if version == 0 || version > 4 {
		return DropVersion
	}
	// NTPv1 (RFC 1059) had no mode field; ntpd treats 0 there as a client.
	if version == 1 && mode == wire.ModeReserved {
		mode = wire.ModeClient
	}
	switch mode {
	case wire.ModeClient:
	case wire.ModeControl, wire.ModePrivate:
		return DropControl
	default:
		return DropMode
	}
	if binary.BigEndian.Uint64(req[wire.OffTransmit:]) == 0 {
		return DropZeroTransmit
	}
	if _, err := wire.ParseExtensions(req, version); err != nil {
		return DropMalformed
	}
	return DropNone
}
