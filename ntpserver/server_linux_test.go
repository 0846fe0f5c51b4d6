package ntpserver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
	"golang.org/x/sys/unix"
)

// serveOn serves conf on the sockets Listen opens at ap, until the test
// ends, and returns the bound address.
func serveOn(t *testing.T, conf string, ap netip.AddrPort) netip.AddrPort {
	t.Helper()
	cfg, _, err := config.ParseBytes("test.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewFromConfig(cfg, nil, nil)
	conns, _, err := Listen(context.Background(), []netip.AddrPort{ap}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(conns[0]); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(func() {
		conns[0].Close()
		wg.Wait()
	})
	return conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
}

// A wildcard socket answers from the address the request was sent to,
// which here is not the one the kernel would pick for the reply.
func TestServeWildcardRepliesFromDestination(t *testing.T) {
	bound := serveOn(t, "allow 127.0.0.0/8\nlocal stratum 3\n", netip.MustParseAddrPort("0.0.0.0:0"))
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), bound.Port())
	c := client(t, "127.0.0.1")
	req := request(flags(0, 4, wire.ModeClient), 0x1122334455667788, 0)
	if _, err := c.WriteToUDPAddrPort(req, to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from != to {
		t.Errorf("reply from %v, want %v", from, to)
	}
	if n != wire.HeaderLen || buf[wire.OffStratum] != 3 {
		t.Errorf("reply %x", buf[:n])
	}
}

// The batched loop allocates nothing per request once it runs. The client
// is raw system calls, so every allocation counted is the server's.
func TestServeBatchedDoesNotAllocate(t *testing.T) {
	bound := serveOn(t, "allow 127.0.0.0/8\nlocal stratum 2\n", netip.MustParseAddrPort("127.0.0.1:0"))
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(bound.Port()), Addr: bound.Addr().As4()}); err != nil {
		t.Fatal(err)
	}
	req := request(flags(0, 4, wire.ModeClient), 1, 0)
	reply := make([]byte, 512)
	var seq uint64
	exchange := func() bool {
		seq++
		binary.BigEndian.PutUint64(req[wire.OffTransmit:], seq)
		if _, err := unix.Write(fd, req); err != nil {
			return false
		}
		for {
			n, err := unix.Read(fd, reply)
			if err != nil {
				return false
			}
			if n == wire.HeaderLen && binary.BigEndian.Uint64(reply[wire.OffOrigin:]) == seq {
				return true
			}
		}
	}
	for range 10 { // warm up
		if !exchange() {
			t.Fatal("no reply")
		}
	}
	const exchanges = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range exchanges {
		if !exchange() {
			t.Fatal("no reply")
		}
	}
	runtime.ReadMemStats(&after)
	// A few runtime allocations may happen meanwhile; one per request
	// would be a thousand.
	if n := after.Mallocs - before.Mallocs; n > exchanges/20 {
		t.Errorf("%d allocations for %d requests", n, exchanges)
	}
}

// BenchmarkProcess is the policy half of one batch: parse the control
// messages, apply access control and the client log, write the replies.
func BenchmarkProcess(b *testing.B) {
	s := NewServer(Options{
		Access:  NewAccess([]config.AccessRule{{Allow: true, Prefix: netip.MustParsePrefix("127.0.0.0/8")}}, nil),
		Clients: NewClientLog(524288, nil),
	})
	io := newBatchIO()
	io.fixedSource = true
	for i := range batch {
		h := &io.rxHdr[i]
		req := request(flags(0, 4, wire.ModeClient), wire.Time64(i+1), 0)
		h.Len = uint32(copy(io.rxBuf[i][:], req))
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&io.names[i][0]))
		sa.Family = unix.AF_INET
		sa.Port = uint16(1024 + i)
		sa.Addr = [4]byte{127, 1, 0, byte(i)}
		h.Hdr.Namelen = unix.SizeofSockaddrInet4
		oob := io.oob[i][:]
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		ch.Level, ch.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
		ch.SetLen(unix.CmsgLen(sizeofTimespec))
		*(*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr])) = unix.NsecToTimespec(1700000000e9 + int64(i))
		h.Hdr.SetControllen(unix.CmsgSpace(sizeofTimespec))
	}
	c := s.newCounters()
	b.ReportAllocs()
	for b.Loop() {
		if m := s.process(io, batch, c); m != batch {
			b.Fatalf("%d replies, want %d", m, batch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/request")
}

// TestListenBeforeTheAddressExists: a socket bound to an address the
// machine does not have yet (a bindaddress a lease brings later) opens.
func TestListenBeforeTheAddressExists(t *testing.T) {
	conns, _, err := Listen(context.Background(), []netip.AddrPort{netip.MustParseAddrPort("198.18.0.250:0")}, 1)
	if err != nil {
		t.Fatalf("listen on an address not on this machine: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
}

// Interleaved mode, as chrony's `xleave` client drives it: the first two
// replies are basic; the third carries, as its transmit timestamp, the
// kernel's transmit time of the second reply and, as its origin, the
// client's receive time of it. A transmit time serves once: the same
// request again gets a basic reply.
func TestServeInterleaved(t *testing.T) {
	bound := serveOn(t, "allow 127.0.0.0/8\nlocal stratum 3\n", netip.MustParseAddrPort("127.0.0.1:0"))
	c := client(t, "127.0.0.1")
	type reply struct {
		origin, rx, tx uint64
		sent, got      wire.Time64 // the client's clock before sending, after receiving
	}
	exchange := func(origin, rx, tx uint64) reply {
		t.Helper()
		req := request(flags(0, 4, wire.ModeClient), wire.Time64(tx), 0)
		binary.BigEndian.PutUint64(req[wire.OffOrigin:], origin)
		binary.BigEndian.PutUint64(req[wire.OffReceive:], rx)
		sent := wire.TimeToNTP(time.Now())
		if _, err := c.WriteToUDPAddrPort(req, bound); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			got := wire.TimeToNTP(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n != wire.HeaderLen {
				t.Fatalf("reply of %d bytes", n)
			}
			r := reply{binary.BigEndian.Uint64(buf[wire.OffOrigin:]), binary.BigEndian.Uint64(buf[wire.OffReceive:]),
				binary.BigEndian.Uint64(buf[wire.OffTransmit:]), sent, got}
			if r.rx&1 != 1 || r.tx&1 != 0 {
				t.Errorf("receive %#x and transmit %#x: want the lowest bits 1 and 0", r.rx, r.tx)
			}
			return r
		}
	}
	// 1: a new client, origin zero: basic.
	r1 := exchange(0, 0, 0x1111)
	if r1.origin != 0x1111 {
		t.Fatalf("reply 1: origin %#x", r1.origin)
	}
	// 2: interleaved request, but nothing recorded for reply 1 (its
	// request was not interleaved): basic, and reply 2 is recorded.
	r2 := exchange(r1.rx, uint64(r1.got), 0x2222)
	if r2.origin != 0x2222 {
		t.Fatalf("reply 2 is not basic: origin %#x", r2.origin)
	}
	// 3: interleaved.
	r3 := exchange(r2.rx, uint64(r2.got), 0x3333)
	if r3.origin != uint64(r2.got) {
		t.Fatalf("reply 3 is not interleaved: origin %#x, want the client's receive time of reply 2 %#x", r3.origin, uint64(r2.got))
	}
	// Its transmit time is reply 2's, from the kernel: after the daemon's
	// reading in reply 2, before the client had reply 2.
	k := wire.Time64(r3.tx)
	if k.Sub(wire.Time64(r2.tx)) <= 0 || wire.Time64(r2.got).Sub(k) < 0 {
		t.Errorf("reply 3 transmit %v: want after reply 2's own transmit %v (the kernel's time of it, not the daemon's) and before the client got it at %v",
			k.Time(time.Now()), wire.Time64(r2.tx).Time(time.Now()), wire.Time64(r2.got).Time(time.Now()))
	}
	t.Logf("kernel transmit time %v after the daemon's reading", k.Sub(wire.Time64(r2.tx)))
	// The same request again: reply 2's transmit time was used.
	if again := exchange(r2.rx, uint64(r2.got), 0x4444); again.origin != 0x4444 {
		t.Errorf("a replayed interleaved request got an interleaved reply: origin %#x", again.origin)
	}
	// An NTPv3 request is never interleaved.
	r5 := exchange(r3.rx, uint64(r3.got), 0x5555)
	req := request(flags(0, 3, wire.ModeClient), 0x6666, 0)
	binary.BigEndian.PutUint64(req[wire.OffOrigin:], r5.rx)
	binary.BigEndian.PutUint64(req[wire.OffReceive:], uint64(r5.got))
	if _, err := c.WriteToUDPAddrPort(req, bound); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := c.ReadFromUDPAddrPort(buf); err != nil || n != wire.HeaderLen || binary.BigEndian.Uint64(buf[wire.OffOrigin:]) != 0x6666 {
		t.Errorf("NTPv3 request: %v, reply %x", err, buf[:n])
	}
}

// A read that fails with anything but a timeout or a closed socket is
// waited out (5, 10, 20 ms for three in a row), and the loop serves the
// next request: it neither spins nor ends.
func TestServeWaitsOutReadErrors(t *testing.T) {
	s := NewServer(Options{
		Access: NewAccess([]config.AccessRule{{Allow: true, Prefix: netip.MustParsePrefix("127.0.0.0/8")}}, nil),
	})
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 40123}
	conn := backoff.NewScriptConn(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 123},
		backoff.Read{Err: syscall.ENOMEM}, backoff.Read{Err: syscall.ENOBUFS}, backoff.Read{Err: syscall.EIO},
		backoff.Read{Data: request(flags(0, 4, wire.ModeClient), 42, 0), From: peer})
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Serve(conn) }()
	for len(conn.Written()) == 0 {
		select {
		case err := <-done:
			t.Fatalf("Serve ended after the read errors: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if d := time.Since(began); d < 35*time.Millisecond {
		t.Errorf("three read errors in a row took %v: no backoff (want at least 5+10+20 ms)", d)
	}
	conn.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
