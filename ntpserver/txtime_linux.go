package ntpserver

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// TxStamper reads the kernel's transmit timestamps of the datagrams sent
// on one UDP socket (SO_TIMESTAMPING, software, as chronyd uses them):
// the time the packet left the network stack for the driver, not the
// time the program read the clock before building it. Under a virtual
// CPU the gap between the two is often hundreds of microseconds, and T1
// is half of every measured offset.
//
// Only the goroutine that sends on the socket may use a TxStamper: Sent
// must follow each successful send, in order.
type TxStamper struct {
	rc   syscallConn
	next uint32 // the kernel's key (OPT_ID) of the next datagram's timestamp
	buf  [64]byte
	oob  [256]byte
}

type syscallConn interface {
	Control(func(fd uintptr)) error
}

// EnableTxTimestamps turns on software transmit timestamps on conn. It
// fails where the kernel has none; the caller then keeps its own clock
// readings.
func EnableTxTimestamps(conn *net.UDPConn) (*TxStamper, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	flags := unix.SOF_TIMESTAMPING_TX_SOFTWARE | unix.SOF_TIMESTAMPING_SOFTWARE |
		unix.SOF_TIMESTAMPING_OPT_TSONLY | unix.SOF_TIMESTAMPING_OPT_ID
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPING, flags)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return &TxStamper{rc: rc}, nil
}

// Sent returns the kernel's transmit time of the datagram just sent, if
// the kernel has reported it already (it does so within the send call
// for every driver that timestamps in its transmit routine, loopback and
// virtio among them). Older timestamps still queued (reports that came
// too late for their datagram) are dropped. A key beyond the expected one
// (the kernel counted a send that failed) is taken, and counted from.
func (ts *TxStamper) Sent() (time.Time, bool) {
	key := ts.next
	ts.next++
	var t time.Time
	found := false
	for range 4 { // at most a few stale reports are queued
		var n, oobn int
		var rerr error
		// Control, not Read: the receiving goroutine holds the read
		// lock while it waits for replies, and the error queue is read
		// without waiting (the report is there now or not at all).
		err := ts.rc.Control(func(fd uintptr) {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), ts.buf[:], ts.oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		})
		if err != nil {
			break
		}
		_ = n
		if rerr != nil {
			break
		}
		ns, id, ok := parseTxReport(ts.oob[:oobn])
		if !ok {
			continue
		}
		if id-key < 1<<31 { // id >= key, in serial number arithmetic
			t, found = time.Unix(0, ns), true
			ts.next = id + 1
			break
		}
	}
	return t, found
}

// parseTxReport reads an error-queue message: the software timestamp
// (SCM_TIMESTAMPING, first of its three) and its key (the IP_RECVERR or
// IPV6_RECVERR extended error from the timestamping origin).
func parseTxReport(b []byte) (ns int64, id uint32, ok bool) {
	var haveTs, haveID bool
	for {
		h, data, rest, ok := nextCmsg(b)
		if !ok {
			break
		}
		b = rest
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPING && len(data) >= 16 {
			if t := timespecNs(data); t != 0 {
				ns, haveTs = t, true
			}
		} else if e, ok := timestampingReport(h, data); ok {
			id, haveID = e.Data, true
		}
	}
	return ns, id, haveTs && haveID
}
