//go:build linux

package qemu_test

// The DHCP flood of issue 11: random MACs send DISCOVERs, some go on to
// REQUEST, against the disk image's DHCP server, while a LAN client polls
// NTP every second. NTPBOX_LOAD=full (make test-load) runs the issue's
// size, 10,000 MACs in 60 s of which 1,000 REQUEST; make test runs a
// short form.

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

const (
	floodRangeStart = "198.18.0.20"
	floodRangeEnd   = "198.18.0.250"
)

// floodSize is the flood's size: full under NTPBOX_LOAD=full.
func floodSize() (discovers, requests int, during time.Duration) {
	if os.Getenv("NTPBOX_LOAD") == "full" {
		return 10000, 1000, 60 * time.Second
	}
	return 2000, 200, 15 * time.Second
}

// flooder is a DHCP client of many MACs on one socket in the client
// namespace (UDP 68, broadcast).
type flooder struct {
	conn net.PacketConn
	mu   sync.Mutex
	// by MAC: the offer seen, the ACKed address
	offers map[string]*dhcpv4.DHCPv4
	acked  map[string]netip.Addr
	naks   int
}

func newFlooder(t *testing.T, lab *qemu.Lab) *flooder {
	t.Helper()
	f := &flooder{offers: map[string]*dhcpv4.DHCPv4{}, acked: map[string]netip.Addr{}}
	err := qemu.InNetns(lab.ClientNetns, func() error {
		var err error
		f.conn, err = server4.NewIPv4UDPConn("eth0", &net.UDPAddr{Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.conn.Close() })
	go f.read()
	return f
}

func (f *flooder) read() {
	buf := make([]byte, 1500)
	for {
		n, _, err := f.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		mac := m.ClientHWAddr.String()
		f.mu.Lock()
		switch m.MessageType() {
		case dhcpv4.MessageTypeOffer:
			f.offers[mac] = m
		case dhcpv4.MessageTypeAck:
			a, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
			f.acked[mac] = a
		case dhcpv4.MessageTypeNak:
			f.naks++
		}
		f.mu.Unlock()
	}
}

func (f *flooder) send(t *testing.T, m *dhcpv4.DHCPv4) {
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	if _, err := f.conn.WriteTo(m.ToBytes(), dst); err != nil {
		t.Errorf("flood send: %v", err)
	}
}

func floodMAC(r *rand.Rand) net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	for i := range mac {
		mac[i] = byte(r.UintN(256))
	}
	mac[0] = mac[0]&^1 | 2
	return mac
}

// run sends discovers DISCOVERs from random MACs evenly over during; the
// first requests MACs REQUEST the address they were offered (or, with
// no offer, one of the range). It returns when all are sent and the
// replies had a few seconds.
func (f *flooder) run(t *testing.T, seed uint64, discovers, requests int, during time.Duration, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	var reqMACs []net.HardwareAddr
	sent := map[string]bool{}
	request := func(mac net.HardwareAddr) {
		f.mu.Lock()
		o := f.offers[mac.String()]
		f.mu.Unlock()
		ip := net.ParseIP(floodRangeStart).To4()
		if o != nil {
			ip = o.YourIPAddr
		}
		m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(qemu.LabVMAddr).To4())),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)))
		if err != nil {
			t.Fatal(err)
		}
		f.send(t, m)
		sent[mac.String()] = true
	}
	gap := during / time.Duration(discovers)
	start := time.Now()
	for i := range discovers {
		select {
		case <-stop:
			return
		default:
		}
		mac := floodMAC(r)
		if len(reqMACs) < requests {
			reqMACs = append(reqMACs, mac)
		}
		m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover), dhcpv4.WithHwAddr(mac))
		if err != nil {
			t.Fatal(err)
		}
		f.send(t, m)
		// A MAC with an offer REQUESTs it a little later, as a client
		// does.
		if i%10 == 9 {
			for _, rm := range reqMACs {
				f.mu.Lock()
				_, offered := f.offers[rm.String()]
				f.mu.Unlock()
				if offered && !sent[rm.String()] {
					request(rm)
				}
			}
		}
		if d := time.Until(start.Add(time.Duration(i+1) * gap)); d > 0 {
			time.Sleep(d)
		}
	}
	for _, rm := range reqMACs {
		if !sent[rm.String()] {
			request(rm)
		}
	}
	time.Sleep(3 * time.Second)
}

func (f *flooder) ackedCopy() map[string]netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]netip.Addr{}
	for k, v := range f.acked {
		out[k] = v
	}
	return out
}

// release gives back n of the flood's leases (DHCPRELEASE from their
// address), making room in the pool.
func (f *flooder) release(t *testing.T, n int) {
	for mac, a := range f.ackedCopy() {
		if n == 0 {
			return
		}
		hw, _ := net.ParseMAC(mac)
		m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithHwAddr(hw),
			dhcpv4.WithClientIP(a.AsSlice()), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(qemu.LabVMAddr).To4())))
		if err != nil {
			t.Fatal(err)
		}
		f.send(t, m)
		n--
	}
}

// ntpPoller queries the box every second from the client namespace until
// stop, counting the queries and the lost replies.
func ntpPoller(lab *qemu.Lab, stop <-chan struct{}) (sent, lost *int, done <-chan struct{}) {
	s, l := new(int), new(int)
	d := make(chan struct{})
	go func() {
		defer close(d)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
			_, err := ntpserver.Query(ctx, lab.DialClient, qemu.LabVMAddr+":123", 4, time.Now)
			cancel()
			*s++
			if err != nil {
				*l++
			}
		}
	}()
	return s, l, d
}

var rssLine = regexp.MustCompile(`msg=rss .*dhcp_kb=(\d+)`)

// maxRSS is the largest dhcp_kb in the console's rss lines after from.
func maxRSS(vm *qemu.VM, from time.Duration) int {
	m := 0
	for _, l := range vm.Lines() {
		if l.At < from {
			continue
		}
		if s := rssLine.FindStringSubmatch(l.Text); s != nil {
			n, _ := strconv.Atoi(s[1])
			m = max(m, n)
		}
	}
	return m
}

func TestDHCPFloodInVM(t *testing.T) {
	discovers, requests, during := floodSize()
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "busybox", "mcopy", "mtype")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	conf := "address " + qemu.LabVMAddr + "/24\nserver " + qemu.LabHostAddr + " iburst\nallow all\n" +
		"dhcp server " + floodRangeStart + " " + floodRangeEnd + " lease 10m\n"
	disk := closetDisk(t, map[string]string{"ntpbox.conf": conf, "cmdline.txt": "ntpbox.testrss\n"})
	vm := closetBox(t, lab, disk)
	if _, err := discWaitLine(vm, "mode=server", bootTimeout); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, lab, qemu.LabVMAddr, 0, bootTimeout)

	// A client with a lease before the flood (udhcpc needs no address of
	// its own; the flood's socket and NTP need the client's).
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")
	before, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "add", qemu.LabClientAddr+"/24", "dev", "eth0")

	stop := make(chan struct{})
	sent, lost, pollDone := ntpPoller(lab, stop)
	floodStart := time.Since(vm.Started)
	f := newFlooder(t, lab)
	began := time.Now()
	f.run(t, 1, discovers, requests, during, nil)
	took := time.Since(began)
	close(stop)
	<-pollDone
	acked := f.ackedCopy()
	f.mu.Lock()
	offers, naks := len(f.offers), f.naks
	f.mu.Unlock()
	rss := maxRSS(vm, floodStart)
	t.Logf("flood: %d DISCOVERs and %d REQUESTs in %.1f s: %d MACs offered, %d ACKed, %d NAKs; NTP: %d of %d queries lost; DHCP service RSS max %d kB",
		discovers, requests, took.Seconds(), offers, len(acked), naks, *lost, *sent, rss)
	if *lost != 0 {
		t.Errorf("NTP lost %d of %d replies during the flood", *lost, *sent)
	}
	if rss == 0 || rss > 64*1024 {
		t.Errorf("the DHCP service's RSS reached %d kB during the flood (want 1..65536; 0: no rss line)", rss)
	}
	if len(acked) == 0 {
		t.Errorf("no REQUEST of the flood was ACKed")
	}

	// The client of before renews the same address.
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")
	again, err := discUdhcpc(t, lab.ClientNetns, "", "-r", before["ip"])
	if err != nil {
		t.Fatal(err)
	}
	if again["ip"] != before["ip"] {
		t.Errorf("after the flood the client got %s, before %s", again["ip"], before["ip"])
	}
	// A new client gets a lease once the pool has room.
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "add", qemu.LabClientAddr+"/24", "dev", "eth0")
	f.release(t, len(acked)) // room for the new client, and for the flood of the power cut below
	time.Sleep(2 * time.Second)
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "flush", "dev", "eth0")
	discSetMAC(t, lab, "52:54:00:ab:cd:ef")
	fresh, err := discUdhcpc(t, lab.ClientNetns, "")
	if err != nil {
		t.Fatal(err)
	}
	if ip := netip.MustParseAddr(fresh["ip"]); ip.Less(netip.MustParseAddr(floodRangeStart)) || netip.MustParseAddr(floodRangeEnd).Less(ip) {
		t.Errorf("new client leased %s", ip)
	}

	// Lease-file writes: at most one a second since the service started.
	powerOff(t, vm)
	line, err := discWaitLine(vm, `msg="dhcp server stopped"`, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`lease_writes=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no lease_writes in %q", line)
	}
	writes, _ := strconv.Atoi(m[1])
	var up time.Duration
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, "mode=server") && up == 0 {
			up = l.At
		}
	}
	ran := vm.Lines()[len(vm.Lines())-1].At - up
	t.Logf("%d lease-file writes in the %.0f s the DHCP service ran (%.1f s to %.1f s after QEMU started)", writes, ran.Seconds(),
		up.Seconds(), vm.Lines()[len(vm.Lines())-1].At.Seconds())
	if float64(writes) > ran.Seconds()+1 {
		t.Errorf("%d lease-file writes in %.0f s: more than one a second", writes, ran.Seconds())
	}
	// And no two within a second: init, which writes the file for the
	// service, logs the shortest time between two writes.
	wl, err := discWaitLine(vm, `msg="state file writes" component=init service=dhcp path=/perm/dhcp.leases`, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mi := regexp.MustCompile(`writes=(\d+) min_interval=(\S+)`).FindStringSubmatch(wl)
	if mi == nil {
		t.Fatalf("no min_interval in %q", wl)
	}
	d, err := time.ParseDuration(mi[2])
	if err != nil {
		t.Fatalf("min_interval in %q: %v", wl, err)
	}
	t.Logf("init wrote dhcp.leases %s times, at least %v apart", mi[1], d)
	// The service's timer and init's clock reading differ by a few ms.
	if d < 990*time.Millisecond {
		t.Errorf("two lease-file writes %v apart: more than one a second", d)
	}

	// A power cut during a flood loses no lease that was ACKed.
	f.conn.Close() // the next flood's socket gets the replies to port 68
	discMust(t, "ip", "-n", lab.ClientNetns, "addr", "add", qemu.LabClientAddr+"/24", "dev", "eth0")
	vm = closetBox(t, lab, disk)
	if _, err := discWaitLine(vm, "mode=server", bootTimeout); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, lab, qemu.LabVMAddr, 0, bootTimeout)
	f2 := newFlooder(t, lab)
	cut := make(chan struct{})
	go func() {
		time.Sleep(during / 2)
		vm.Kill()
		close(cut)
	}()
	f2.run(t, 2, discovers, requests, during, cut)
	<-cut
	ackedBeforeCut := f2.ackedCopy()
	inFile := map[string]string{}
	for _, l := range discReadLeases(t, disk) {
		inFile[l.Client] = l.Addr
	}
	lostLeases := 0
	for mac, a := range ackedBeforeCut {
		if inFile["hw:"+mac] != a.String() {
			lostLeases++
			t.Errorf("ACKed lease %s -> %s is not in the lease file after the power cut (file: %q)", mac, a, inFile["hw:"+mac])
		}
	}
	t.Logf("power cut %.0f s into a flood: %d ACKed leases, %d lost", (during / 2).Seconds(), len(ackedBeforeCut), lostLeases)
	if len(ackedBeforeCut) == 0 {
		t.Error("no lease was ACKed before the power cut: nothing checked")
	}
}
