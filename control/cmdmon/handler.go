package cmdmon

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// Provider is what the command port asks the daemon: the reports of the
// control socket, the server's counters, and how many configured sources
// have no address yet (they are not among Sources).
type Provider interface {
	control.Provider
	ServerStats() control.ServerStats
	Unresolved() int
}

// Respond answers the request b into out, which must hold MaxReplyLen
// bytes, and returns the reply's length; 0 means no reply. It is the
// whole policy of the command port, a function of the request and what p
// reports: it never changes p's state.
//
// Read-only requests are answered as chronyd answers them. Every
// request that would change the daemon's state, and every request
// chronyd reserves for its local socket other than serverstats, clients
// and ntpdata, gets STT_UNAUTH ("501 Not authorised"), as chronyd
// answers them over UDP. A reply is never longer than b.
func Respond(b []byte, out []byte, p Provider) int {
	r, v := DecodeRequest(b)
	if v == Drop {
		return 0
	}
	out = out[:MaxReplyLen]
	clear(out)
	out[0] = protoVersion
	out[1] = pktTypeReply
	binary.BigEndian.PutUint16(out[4:], r.Command)
	copy(out[16:20], r.Sequence[:])
	status, rpy, n := uint16(sttSuccess), uint16(rpyNull), 0
	switch v {
	case BadVersion:
		status = sttBadPktVersion
	case Invalid:
		status = sttInvalid
	case BadLength:
		status = sttBadPktLength
	default:
		status, rpy, n = command(&r, out[replyHeaderLen:], p)
	}
	if status != sttSuccess {
		rpy, n = rpyNull, 0
		clear(out[replyHeaderLen:])
	}
	binary.BigEndian.PutUint16(out[6:], rpy)
	binary.BigEndian.PutUint16(out[8:], status)
	if replyLen(n) > len(b) {
		return 0 // never amplify (cannot happen for a padded request)
	}
	return replyLen(n)
}

// command runs an accepted request: the status, the reply type and the
// length of the reply data written to d.
func command(r *Request, d []byte, p Provider) (status, rpy uint16, n int) {
	switch r.Command {
	case reqNull:
		return sttSuccess, rpyNull, 0
	case reqLogon:
		return sttFailed, 0, 0 // chronyd: authentication is gone, logon always fails
	case reqNSources:
		binary.BigEndian.PutUint32(d, uint32(len(p.Sources())))
		return sttSuccess, rpyNSources, 4
	case reqSourceData:
		s, i, ok := sourceAt(p, r.Data)
		if !ok {
			return sttNoSuchSource, 0, 0
		}
		return sttSuccess, rpySourceData, putSourceData(d, s, i)
	case reqSourceStats:
		s, i, ok := sourceAt(p, r.Data)
		if !ok {
			return sttNoSuchSource, 0, 0
		}
		return sttSuccess, rpySourceStats, putSourceStats(d, s, i)
	case reqTracking:
		return sttSuccess, rpyTracking, putTracking(d, p.Tracking(), p.Sources())
	case reqRTCReport:
		return sttNoRTC, 0, 0 // ntpbox keeps no RTC statistics (chronyd without rtcfile)
	case reqManualList:
		binary.BigEndian.PutUint32(d, 0) // no manual samples: `manual` is rejected
		return sttSuccess, rpyManualList2, 388
	case reqActivity:
		return sttSuccess, rpyActivity, putActivity(d, control.Activity(p.Sources(), p.Unresolved()))
	case reqSmoothing:
		return sttNotEnabled, 0, 0 // `smoothtime` is rejected
	case reqServerStats:
		return sttSuccess, rpyServerStats3, putServerStats(d, p.ServerStats())
	case reqNTPData:
		addr, _, _ := getIPAddr(r.Data)
		for _, s := range p.Sources() {
			if addr.IsValid() && s.Addr.Addr().Unmap() == addr.Unmap() {
				return sttSuccess, rpyNTPData, putNTPData(d, control.NTPData(s))
			}
		}
		return sttNoSuchSource, 0, 0
	case reqNTPSourceName:
		name, ok := sourceName(p.Sources(), r.Data)
		if !ok {
			return sttNoSuchSource, 0, 0
		}
		copy(d[:255], name) // at most 255 bytes: the last stays NUL
		return sttSuccess, rpyNTPSourceName, 256
	case reqClientAccessesByIndex3:
		return sttSuccess, rpyClientAccessesByIndex3, putClients(d, r.Data, p.Clients())
	}
	return sttUnauth, 0, 0
}

// sourceAt is the source at the index that starts data.
func sourceAt(p Provider, data []byte) (upstream.SourceReport, int, bool) {
	i := binary.BigEndian.Uint32(data)
	srcs := p.Sources()
	if uint64(i) >= uint64(len(srcs)) {
		return upstream.SourceReport{}, 0, false
	}
	return srcs[i], int(i), true
}

// sourceName is NTP_SOURCE_NAME: the name of the source at the address
// (or, for chrony's ID family, the unresolved source at that index).
func sourceName(srcs []upstream.SourceReport, data []byte) (string, bool) {
	addr, id, family := getIPAddr(data)
	for i, s := range srcs {
		if (family == familyID && !s.Addr.IsValid() && uint32(i) == id) ||
			(addr.IsValid() && s.Addr.IsValid() && s.Addr.Addr().Unmap() == addr.Unmap()) {
			if s.Name == "" {
				return s.Addr.Addr().String(), true
			}
			return s.Name, true
		}
	}
	return "", false
}

// seconds is a duration as chrony's unsigned seconds "ago", truncated;
// (uint32)-1 for never.
func seconds(d time.Duration) uint32 {
	if d < 0 {
		return math.MaxUint32
	}
	return uint32(min(int64(d/time.Second), math.MaxUint32-1))
}

// putSourceIP writes a source's address, or chrony's ID for a source not
// resolved yet (hidden by `chronyc sources` without -a).
func putSourceIP(b []byte, s upstream.SourceReport, i int) {
	if s.Addr.IsValid() {
		putIPAddr(b, s.Addr.Addr())
	} else {
		putIPID(b, uint32(i))
	}
}
