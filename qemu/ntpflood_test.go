//go:build linux

package qemu_test

// The NTP flood of issue 11: requests from 1,000,000 source addresses
// (IPv4 and IPv6) against the disk image, nine tenths at 20,000 a second
// and the last tenth at the host's full speed; the NTP service's
// client log and rate limit keep their memory (clientloglimit) whatever
// the spread. NTPBOX_LOAD=full (make test-load) sends the issue's
// million; make test sends 100,000.

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ntpbox/ntpbox/qemu"
)

// ntpFloodFrame writes an Ethernet frame with an NTP client request from
// a random source (IPv4 from 198.18.0.0/15, or IPv6 from 2001:2::/48,
// RFC 5180) to the box into b, and returns its length.
func ntpFloodFrame(b []byte, r *rand.Rand, v6 bool, dstMAC, srcMAC net.HardwareAddr, dst4 [4]byte, dst6 [16]byte) int {
	copy(b[0:], dstMAC)
	copy(b[6:], srcMAC)
	ntp := make([]byte, 48)
	ntp[0] = 4<<3 | 3 // version 4, client
	binary.BigEndian.PutUint64(ntp[40:], r.Uint64()|1)
	udp := func(p []byte, src, dst []byte) {
		binary.BigEndian.PutUint16(p[0:], uint16(1024+r.UintN(60000)))
		binary.BigEndian.PutUint16(p[2:], 123)
		binary.BigEndian.PutUint16(p[4:], 8+48)
		copy(p[8:], ntp)
		if v6 { // the UDP checksum is mandatory over IPv6
			var sum uint32
			add := func(d []byte) {
				for i := 0; i+1 < len(d); i += 2 {
					sum += uint32(binary.BigEndian.Uint16(d[i:]))
				}
			}
			add(src)
			add(dst)
			sum += 8 + 48 + 17
			add(p[:8+48])
			for sum>>16 != 0 {
				sum = sum&0xffff + sum>>16
			}
			c := ^uint16(sum)
			if c == 0 {
				c = 0xffff
			}
			binary.BigEndian.PutUint16(p[6:], c)
		}
	}
	if !v6 {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
		ip := b[14:]
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:], 20+8+48)
		binary.BigEndian.PutUint32(ip[4:], 0)
		ip[8], ip[9] = 64, 17
		ip[10], ip[11] = 0, 0
		src := [4]byte{198, 18 + byte(r.UintN(2)), byte(r.UintN(256)), byte(r.UintN(256))}
		copy(ip[12:], src[:])
		copy(ip[16:], dst4[:])
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[i:]))
		}
		for sum>>16 != 0 {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		binary.BigEndian.PutUint16(ip[26:], 0) // no UDP checksum (IPv4 allows it)
		udp(ip[20:], src[:], dst4[:])
		return 14 + 20 + 8 + 48
	}
	binary.BigEndian.PutUint16(b[12:], 0x86dd)
	ip := b[14:]
	ip[0], ip[1], ip[2], ip[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(ip[4:], 8+48)
	ip[6], ip[7] = 17, 64
	src := [16]byte{0x20, 0x01, 0x00, 0x02}
	for i := 6; i < 16; i++ {
		src[i] = byte(r.UintN(256))
	}
	copy(ip[8:], src[:])
	copy(ip[24:], dst6[:])
	udp(ip[40:], src[:], dst6[:])
	return 14 + 40 + 8 + 48
}

var ntpRSSLine = regexp.MustCompile(`msg=rss .*ntp_kb=(\d+)`)

func ntpRSS(vm *qemu.VM, from, to time.Duration) int {
	m := 0
	for _, l := range vm.Lines() {
		if l.At < from || to > 0 && l.At > to {
			continue
		}
		if s := ntpRSSLine.FindStringSubmatch(l.Text); s != nil {
			n, _ := strconv.Atoi(s[1])
			m = max(m, n)
		}
	}
	return m
}

func TestNTPFloodInVM(t *testing.T) {
	sources := 100_000
	if os.Getenv("NTPBOX_LOAD") == "full" {
		sources = 1_000_000
	}
	img := qemu.FindImage()
	qemu.RequireT(t, img, "mcopy")
	lab := qemu.NewLabT(t)
	// A gateway, so that rp_filter passes requests from any IPv4 source
	// (the replies go to the gateway, which drops them); a rate limit, so
	// that its records are exercised too.
	conf := "address " + qemu.LabVMAddr + "/24\ngateway " + qemu.LabHostAddr + "\nallow all\nlocal stratum 10\nratelimit interval 1 burst 4\n"
	disk := closetDisk(t, map[string]string{"ntpbox.conf": conf, "cmdline.txt": "ntpbox.testrss\n"})
	// e1000, the NIC of the old PCs the box is for, as the DNS flood
	// uses: with virtio-net, the unpaced tail of the full flood stalled
	// the guest's transmit queue for good in CI (NETDEV WATCHDOG, Linux
	// 6.1's virtio_net never resets it), and the box sent nothing more.
	vm := qemu.StartT(t, qemu.Config{
		Disk: disk, NIC: "e1000", MAC: closetMAC,
		Netns: lab.VMNetns, Tap: lab.Tap, QMP: filepath.Join(t.TempDir(), "qmp.sock"),
	})
	waitAnswers(t, lab, qemu.LabVMAddr, 10, bootTimeout)
	time.Sleep(3 * time.Second) // a few rss lines before the flood
	before := ntpRSS(vm, 0, 0)

	dstMAC, _ := net.ParseMAC(closetMAC)
	dst6 := [16]byte{0xfe, 0x80, 8: 0x50, 9: 0x54, 10: 0x00, 11: 0xff, 12: 0xfe, 13: 0x12, 14: 0x34, 15: 0x56} // EUI-64 of closetMAC
	var fd int
	var br *net.Interface
	err := qemu.InNetns(lab.VMNetns, func() error {
		var err error
		if br, err = net.InterfaceByName("br0"); err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: br.Index})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	floodFrom := time.Since(vm.Started)
	r := rand.New(rand.NewPCG(7, 8))
	frame := make([]byte, 256)
	to := &unix.SockaddrLinklayer{Ifindex: br.Index, Halen: 6}
	copy(to.Addr[:], dstMAC)
	began := time.Now()
	failed := 0
	// As fast as the guest takes them: a TCG guest's NIC drops most of a
	// host's full speed (measured: 4% of 1,000,000 at 190,000/s reached
	// the service), so the flood is paced at 20,000 a second, to reach
	// the service from as many sources as possible; its last tenth goes
	// at the host's full speed, unpaced, which the box must survive too.
	const perMs = 20
	paced := sources - sources/10
	for i := range sources {
		if i < paced && i%perMs == 0 {
			if d := time.Until(began.Add(time.Duration(i/perMs) * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
		}
		n := ntpFloodFrame(frame, r, i%2 == 1, dstMAC, br.HardwareAddr, [4]byte{198, 18, 0, 2}, dst6)
		if err := unix.Sendto(fd, frame[:n], 0, to); err != nil {
			failed++
			if err == unix.ENOBUFS || err == unix.EAGAIN {
				time.Sleep(time.Millisecond)
			}
		}
	}
	took := time.Since(began)
	time.Sleep(5 * time.Second) // the box works through its queue; rss lines
	floodTo := time.Since(vm.Started)
	peak := ntpRSS(vm, floodFrom, floodTo)
	t.Logf("%d requests from as many sources (half IPv6) sent in %.1f s (%.0f/s; the last %d unpaced; %d send errors); NTP service RSS %d kB before, %d kB peak",
		sources, took.Seconds(), float64(sources)/took.Seconds(), sources-paced, failed, before, peak)
	// A LAN client is answered again once the flood's incomplete ARP
	// entries (its sources inside the box's /24: the replies to them wait
	// for ARP) have timed out; CI saw the first query after a full flood
	// unanswered once, and a slower CI machine none for 20 s (the guest
	// then took half the flood where this machine takes 90%): 60 s, and
	// each different error is logged, so that a failure says why.
	var qerr error
	failures := 0
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		var err error
		if _, err = query(lab, qemu.LabVMAddr); err == nil {
			t.Logf("a LAN client is answered %.1f s after the flood (%d queries unanswered before)", time.Since(began.Add(took)).Seconds(), failures)
			qerr = nil
			break
		}
		failures++
		if qerr == nil || err.Error() != qerr.Error() {
			t.Logf("%.1f s after the flood: %v", time.Since(began.Add(took)).Seconds(), err)
		}
		qerr = err
	}
	if qerr != nil {
		t.Errorf("a LAN client is not answered 60 s after the flood (%d queries): %v", failures, qerr)
	}
	powerOff(t, vm)
	line, err := discWaitLine(vm, "msg=stopped received=", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the NTP service: %s", line)
	if m := regexp.MustCompile(`received=(\d+)`).FindStringSubmatch(line); m != nil {
		// A tenth is 100,000 distinct sources, 12 times what the client
		// log holds; a slow CI machine's guest took 51% of the flood.
		if n, _ := strconv.Atoi(m[1]); n < sources/10 {
			t.Errorf("the NTP service received %d of the %d requests: the flood did not reach it", n, sources)
		}
	}
	if before == 0 || peak == 0 {
		t.Fatalf("no rss lines (before %d, peak %d kB)", before, peak)
	}
	// The client log is 512 KiB (clientloglimit's default); the service
	// allocates nothing per request. 8 MiB leaves room for the Go heap's
	// own breathing, not for a table that grows with the sources.
	if peak-before > 8*1024 {
		t.Errorf("the NTP service grew by %d kB during the flood", peak-before)
	}
}
