package ntpserver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ntpbox/ntpbox/config"
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
		ch.SetLen(unix.CmsgLen(16))
		*(*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr])) = unix.Timespec{Sec: 1700000000, Nsec: int64(i)}
		h.Hdr.SetControllen(unix.CmsgSpace(16))
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
