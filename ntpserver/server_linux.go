package ntpserver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
	"golang.org/x/sys/unix"
)

// batch is how many datagrams one recvmmsg/sendmmsg moves.
const batch = 32

const (
	rxBufLen  = 2048           // longer than wire.MaxPacketLen, so oversized packets are seen as such
	oobLen    = 128            // a timestamp and a packet-info message, with room to spare
	txOOBLen  = 96             // a packet-info message and a transmit-timestamp request
	cmsgAlign = unix.SizeofPtr // CMSG_ALIGN: sizeof(long), 4 on 386
)

// sizeofTimespec is the struct timespec of SCM_TIMESTAMPNS: 16 bytes on
// amd64 and arm64, 8 on 386 (the kernel's old 32-bit timespec there).
const sizeofTimespec = int(unsafe.Sizeof(unix.Timespec{}))

// batchIO holds one loop's buffers; nothing in the loop allocates.
type batchIO struct {
	rxHdr  [batch]unix.Mmsghdr
	rxIov  [batch]unix.Iovec
	rxBuf  [batch][rxBufLen]byte
	names  [batch][unix.SizeofSockaddrInet6]byte
	oob    [batch][oobLen]byte
	txHdr  [batch]unix.Mmsghdr
	txIov  [batch]unix.Iovec
	txBuf  [batch][wire.HeaderLen]byte
	txOOB  [batch][txOOBLen]byte
	xl     [batch]xleaveReply // interleaved mode, per reply
	tsLen  [batch]int         // the length of reply m's transmit-timestamp request (0: none)
	errnos int                // replies the kernel refused
	// Transmit timestamps of interleaved-mode replies (see xleave.go).
	// txTS: the kernel takes the request (SO_TIMESTAMPING as a control
	// message); outstanding: reports asked for and not read yet, and
	// lastAsk, when the last was asked for (Unix ns).
	txTS        bool
	outstanding int
	lastAsk     int64
	errBuf      [256]byte // a looped-back reply, headers included
	errOOB      [128]byte
	// fixedSource: the socket is bound to one IPv4 address, the source
	// of every reply, so replies need no packet-info message.
	fixedSource bool
}

func newBatchIO() *batchIO {
	b := new(batchIO)
	for i := range b.rxHdr {
		b.rxIov[i].Base = &b.rxBuf[i][0]
		b.rxIov[i].SetLen(rxBufLen)
		h := &b.rxHdr[i].Hdr
		h.Iov = &b.rxIov[i]
		h.SetIovlen(1)
		h.Name = &b.names[i][0]
		h.Control = &b.oob[i][0]
		b.txIov[i].Base = &b.txBuf[i][0]
	}
	return b
}

// resetRx restores the lengths the kernel overwrote in the last receive.
func (b *batchIO) resetRx() {
	for i := range b.rxHdr {
		h := &b.rxHdr[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(oobLen)
		h.Flags = 0
	}
}

// enableRxInfo asks the kernel for receive timestamps and for the
// destination address of each datagram (so replies leave from the address
// the request was sent to, and broadcasts can be recognised).
func enableRxInfo(fd uintptr, v6 bool) error {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return err
	}
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
	}
	return unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
}

// serveBatched is the Linux loop: up to batch requests per recvmmsg, their
// replies in one sendmmsg, with one transmit timestamp per batch.
//
// Both calls pass MSG_DONTWAIT and never block (waiting is left to the
// runtime's poller, through rc.Read), so they are made as raw system
// calls. Through syscall.Syscall the scheduler would count a batch of
// loopback sends (often over 20 µs) as a blocking call, hand the P to
// another thread and take it back afterwards: at saturation that
// bookkeeping cost more than a tenth of the CPU per reply.
func (s *Server) serveBatched(conn *net.UDPConn, c *counters) (error, bool) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, false
	}
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	v6 := la != nil && la.IP.To4() == nil
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = enableRxInfo(fd, v6) }); err != nil || serr != nil {
		s.log.Warn("kernel receive timestamps unavailable; using the portable loop", "err", errors.Join(err, serr))
		return nil, false
	}
	b := newBatchIO()
	b.txTS = true
	// Bound to one IPv4 address, the socket sends every reply from it:
	// the packet-info message would only repeat it.
	b.fixedSource = la != nil && !v6 && !la.IP.IsUnspecified()

	// The callbacks are made once, so that the loop does not allocate.
	var n, m, sent int
	var recvErr unix.Errno
	recv := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rxHdr[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			n, recvErr = int(r), 0
		case unix.EAGAIN, unix.EINTR:
			return false
		default:
			n, recvErr = 0, e
		}
		return true
	}
	// A receive error other than "nothing yet" (ENOMEM, say) backs off
	// instead of retrying at once.
	var pause backoff.Backoff
	// send sends the replies from sent to m. A reply the kernel refuses (no
	// route, say) is skipped; it does not hold up the rest.
	send := func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.txHdr[sent])), uintptr(m-sent), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			sent += int(r)
		case unix.EAGAIN, unix.EINTR:
			return false
		case unix.EINVAL:
			if b.tsLen[sent] > 0 {
				// A kernel that takes no timestamping request with a
				// datagram (before 4.13): send without them.
				b.noTxTimestamps(sent, m)
				return true
			}
			fallthrough
		default:
			b.errnos++
			sent++
		}
		return true
	}
	for {
		b.resetRx()
		n = 0
		if err := rc.Read(recv); err != nil {
			return closedIsNil(err), true
		}
		if recvErr != 0 {
			d := pause.Next()
			s.log.Warn("receive failed", "err", recvErr, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		if n == 0 {
			continue
		}
		m = s.process(b, n, c)
		if m == 0 {
			if b.outstanding > 0 {
				s.readTxReports(rc, b)
			}
			continue
		}
		st := s.state.Load()
		now := s.now()
		tx := txStamp(st, now)
		asked := 0
		for j := 0; j < m; j++ {
			if !b.xl[j].interleaved {
				wire.PutTransmit(b.txBuf[j][:], tx)
			}
			if b.xl[j].save != 0 {
				s.xleave.put(b.xl[j].save, tx)
				if b.tsLen[j] > 0 {
					asked++
				}
			}
		}
		if asked > 0 {
			b.outstanding += asked
			b.lastAsk = now.UnixNano()
		}
		for sent = 0; sent < m; {
			if err := rc.Write(send); err != nil {
				return closedIsNil(err), true
			}
		}
		if b.outstanding > 0 {
			s.readTxReports(rc, b)
		}
	}
}

func closedIsNil(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// process applies policy to n received datagrams and prepares the
// replies in b.tx*, returning how many there are. It counts per batch,
// not per datagram.
func (s *Server) process(b *batchIO, n int, c *counters) int {
	st := s.state.Load()
	acc := s.access.Load()
	var fallback int64
	var count [numDrops]uint32
	m := 0
	for i := 0; i < n; i++ {
		h := &b.rxHdr[i]
		src := sockaddrToAddrPort(&b.names[i])
		info := parseCmsgs(b.oob[i][:h.Hdr.Controllen])
		var d Drop
		var k int
		switch {
		case h.Hdr.Flags&unix.MSG_TRUNC != 0 || h.Len > wire.MaxPacketLen:
			d = DropTooLong
		case info.broadcast:
			d = DropBadDest
		default:
			rx := info.rxNs
			if rx == 0 {
				if fallback == 0 {
					fallback = s.now().UnixNano()
				}
				rx = fallback
			}
			k, d, b.xl[m] = s.handle(b.txBuf[m][:], b.rxBuf[i][:h.Len], src, rx, st, acc)
		}
		count[d]++
		if k == 0 {
			continue
		}
		t := &b.txHdr[m].Hdr
		t.Name = &b.names[i][0]
		t.Namelen = h.Hdr.Namelen
		b.txIov[m].SetLen(k)
		t.Iov = &b.txIov[m]
		t.SetIovlen(1)
		cl := b.replyCmsg(&info, m)
		b.tsLen[m] = 0
		if b.xl[m].save != 0 && b.txTS {
			b.tsLen[m] = putTxTimestampRequest(b.txOOB[m][cl:])
			cl += b.tsLen[m]
		}
		if cl > 0 {
			t.Control = &b.txOOB[m][0]
			t.SetControllen(cl)
		} else {
			t.Control = nil
			t.SetControllen(0)
		}
		m++
	}
	c.received.Add(uint64(n))
	for d, v := range count {
		if v > 0 {
			c.byDrop[d].Add(uint64(v))
		}
	}
	return m
}

// replyCmsg writes reply m's packet-info message, if it needs one, and
// returns its length.
func (b *batchIO) replyCmsg(info *rxInfo, m int) int {
	if b.fixedSource && info.v4 {
		return 0
	}
	return info.replyCmsg(b.txOOB[m][:])
}

func sockaddrToAddrPort(n *[unix.SizeofSockaddrInet6]byte) netip.AddrPort {
	family := *(*uint16)(unsafe.Pointer(&n[0]))
	port := binary.BigEndian.Uint16(n[2:4])
	switch family {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(n[4:8])), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(n[8:24])), port)
	}
	return netip.AddrPort{}
}

// rxInfo is what the control messages of one datagram said.
type rxInfo struct {
	rxNs      int64 // kernel receive time, Unix ns; 0 if absent
	v4, v6    bool
	dst4      [4]byte
	dst6      [16]byte
	ifindex   uint32
	broadcast bool // sent to a broadcast or multicast address
}

// nextCmsg splits the first control message off b: its header, its
// data and what follows it; ok is false when b holds no whole one.
func nextCmsg(b []byte) (h *unix.Cmsghdr, data, rest []byte, ok bool) {
	if len(b) < unix.SizeofCmsghdr {
		return nil, nil, nil, false
	}
	h = (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	l := int(h.Len)
	if l < unix.SizeofCmsghdr || l > len(b) {
		return nil, nil, nil, false
	}
	return h, b[unix.SizeofCmsghdr:l], b[min((l+cmsgAlign-1)&^(cmsgAlign-1), len(b)):], true
}

// timespecNs reads the struct timespec at the start of a timestamp
// message (SCM_TIMESTAMPNS, or the first of SCM_TIMESTAMPING's three) as
// Unix nanoseconds; 0 means none.
func timespecNs(data []byte) int64 {
	ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
	return int64(ts.Sec)*1e9 + int64(ts.Nsec) // int32 fields on 386
}

// timestampingReport returns the extended error of an IP_RECVERR or
// IPV6_RECVERR message if it reports a transmit timestamp.
func timestampingReport(h *unix.Cmsghdr, data []byte) (*unix.SockExtendedErr, bool) {
	if !(h.Level == unix.IPPROTO_IP && h.Type == unix.IP_RECVERR || h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_RECVERR) ||
		len(data) < int(unsafe.Sizeof(unix.SockExtendedErr{})) {
		return nil, false
	}
	e := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
	return e, e.Origin == unix.SO_EE_ORIGIN_TIMESTAMPING
}

// parseCmsgs walks the control messages at fixed offsets.
func parseCmsgs(b []byte) rxInfo {
	var info rxInfo
	for {
		h, data, rest, ok := nextCmsg(b)
		if !ok {
			break
		}
		b = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= sizeofTimespec:
			info.rxNs = timespecNs(data)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			p := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			a := netip.AddrFrom4(p.Addr)
			info.broadcast = a.IsMulticast() || a == ipv4Bcast
			// A datagram queued before IP_PKTINFO was enabled carries no
			// local address; leave the reply's source to the kernel.
			if p.Spec_dst == [4]byte{} {
				break
			}
			info.v4 = true
			info.dst4 = p.Addr
			info.ifindex = uint32(p.Ifindex)
			// For a unicast datagram to one of our addresses the kernel's
			// chosen local address equals the destination; it differs for
			// a subnet broadcast.
			info.broadcast = info.broadcast || p.Spec_dst != p.Addr
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			p := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			info.v6 = true
			info.dst6 = p.Addr
			info.ifindex = p.Ifindex
			info.broadcast = netip.AddrFrom16(p.Addr).IsMulticast()
		}
	}
	return info
}

// replyCmsg writes the packet-info control message that makes the reply
// leave from the address the request was sent to, and returns its length.
func (info *rxInfo) replyCmsg(b []byte) int {
	switch {
	case info.v4:
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		p := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.SizeofCmsghdr]))
		*p = unix.Inet4Pktinfo{Spec_dst: info.dst4}
		return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	case info.v6:
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		p := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.SizeofCmsghdr]))
		*p = unix.Inet6Pktinfo{Addr: info.dst6, Ifindex: info.ifindex}
		return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	}
	return 0
}

// putTxTimestampRequest writes the control message that asks the kernel
// for a software transmit timestamp of this one datagram, and returns its
// length. The report comes on the socket's error queue, with the
// datagram, as an SCM_TIMESTAMPNS message (the socket has SO_TIMESTAMPNS
// on): unlike the SO_TIMESTAMPING socket option, this changes nothing
// about the receive timestamps of the other datagrams.
func putTxTimestampRequest(b []byte) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMPING
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.SizeofCmsghdr:], unix.SOF_TIMESTAMPING_TX_SOFTWARE)
	return unix.CmsgSpace(4)
}

// noTxTimestamps removes the timestamp requests from replies from to m
// and stops asking for them.
func (b *batchIO) noTxTimestamps(from, m int) {
	b.txTS = false
	for j := from; j < m; j++ {
		if b.tsLen[j] == 0 {
			continue
		}
		t := &b.txHdr[j].Hdr
		cl := int(t.Controllen) - b.tsLen[j]
		b.tsLen[j] = 0
		if cl > 0 {
			t.SetControllen(cl)
		} else {
			t.Control = nil
			t.SetControllen(0)
		}
	}
}

// readTxReports reads the transmit timestamps the kernel has reported
// and records them as the transmit times of their replies. It reads
// until the error queue is empty: reports left there would take space
// from the socket's receive buffer. A report that has not come a second
// after the last request is given up for.
func (s *Server) readTxReports(rc syscall.RawConn, b *batchIO) {
	st := s.state.Load()
	got := 0
	for {
		var n, oobn, flags int
		var rerr error
		err := rc.Control(func(fd uintptr) {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), b.errBuf[:], b.errOOB[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		})
		if err != nil || rerr != nil {
			break
		}
		got++
		ns, ok := parseTxTimestamp(b.errOOB[:oobn])
		if !ok || flags&unix.MSG_TRUNC != 0 || n < wire.HeaderLen {
			continue
		}
		// The datagram comes back with its headers (down to the link
		// layer's); our replies are one NTP header with nothing after it.
		pkt := b.errBuf[n-wire.HeaderLen : n]
		if wire.Mode(pkt[wire.OffFlags]&7) != wire.ModeServer {
			continue
		}
		rx := wire.Time64(binary.BigEndian.Uint64(pkt[wire.OffReceive:]))
		s.xleave.kernelTx(rx, txStamp(st, time.Unix(0, ns)))
	}
	b.outstanding = max(b.outstanding-got, 0)
	if got == 0 && b.outstanding > 0 && s.now().UnixNano()-b.lastAsk > int64(time.Second) {
		b.outstanding = 0
	}
}

// parseTxTimestamp reads an error-queue message: the timestamp
// (SCM_TIMESTAMPNS) of a report whose origin is timestamping.
func parseTxTimestamp(b []byte) (ns int64, ok bool) {
	var haveTs, isTs bool
	for {
		h, data, rest, more := nextCmsg(b)
		if !more {
			break
		}
		b = rest
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= sizeofTimespec {
			ns = timespecNs(data)
			haveTs = ns != 0
		} else if _, ok := timestampingReport(h, data); ok {
			isTs = true
		}
	}
	return ns, haveTs && isTs
}
