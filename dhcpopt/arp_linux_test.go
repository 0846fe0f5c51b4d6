package dhcpopt

import (
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/ntpbox/ntpbox/internal/nstest"
	"golang.org/x/sys/unix"
)

// inNS runs f on a thread moved into the namespace ns; sockets f opens
// stay there.
func inNS(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return // the thread stays locked and ends with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	<-done
}

// TestARPProberOnVeth probes across a veth pair: the peer's address is in
// use, a free one is not, probes run in parallel, and a closed prober
// says false at once.
func TestARPProberOnVeth(t *testing.T) {
	nstest.NeedRoot(t)
	box, peer := nstest.New(t), nstest.New(t)
	nstest.IP(t, "-n", box, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer)
	nstest.IP(t, "-n", box, "addr", "add", "198.18.0.2/24", "dev", "eth0")
	nstest.IP(t, "-n", peer, "addr", "add", "198.18.0.100/24", "dev", "eth0")
	nstest.IP(t, "-n", box, "link", "set", "eth0", "up")
	nstest.IP(t, "-n", peer, "link", "set", "eth0", "up")

	const timeout = 300 * time.Millisecond
	var p *ARPProber
	inNS(t, box, func() {
		var err error
		p, err = NewARPProber("eth0", netip.MustParseAddr("198.18.0.2"), timeout)
		if err != nil {
			t.Error(err)
		}
	})
	if p == nil {
		t.FailNow()
	}
	defer p.Close()
	if _, err := NewARPProber("no-such-if0", netip.MustParseAddr("198.18.0.2"), timeout); err == nil {
		t.Error("a prober on a missing interface")
	}

	used, free := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	start := time.Now()
	if !p.InUse(used) {
		t.Errorf("%v, the peer's address, is not in use", used)
	}
	t.Logf("in-use answer after %v", time.Since(start).Round(time.Microsecond))
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("the peer's answer took %v", took)
	}
	start = time.Now()
	if p.InUse(free) {
		t.Errorf("%v, which nobody holds, is in use", free)
	}
	if took := time.Since(start); took < timeout || took > timeout+200*time.Millisecond {
		t.Errorf("a free address took %v, want the timeout %v", took, timeout)
	}

	// Eight probes at once take one timeout, not eight, and each gets its
	// own answer.
	var wg sync.WaitGroup
	got := make([]bool, 8)
	start = time.Now()
	for i := range got {
		wg.Go(func() {
			a := free
			if i%2 == 0 {
				a = used
			}
			got[i] = p.InUse(a)
		})
	}
	wg.Wait()
	took := time.Since(start)
	for i, g := range got {
		if g != (i%2 == 0) {
			t.Errorf("parallel probe %d: in use %v", i, g)
		}
	}
	if took > 2*timeout {
		t.Errorf("8 parallel probes took %v, timeout %v", took, timeout)
	}
	t.Logf("8 parallel probes (4 in use, 4 free) in %v", took.Round(time.Millisecond))

	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	start = time.Now()
	if p.InUse(used) || time.Since(start) > 10*time.Millisecond {
		t.Error("a closed prober probed")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// slowProber takes its time, as the ARP prober does for a free address.
type slowProber struct{ d time.Duration }

func (s slowProber) InUse(netip.Addr) bool { time.Sleep(s.d); return false }

// Clients are served while another one's address is probed.
func TestProbesDoNotSerialise(t *testing.T) {
	cfg := serverConfig()
	cfg.RangeEnd = netip.MustParseAddr("198.18.0.120")
	const d = 200 * time.Millisecond
	h := newHandler(t, cfg, slowProber{d})
	var wg sync.WaitGroup
	addrs := make([]netip.Addr, 10)
	start := time.Now()
	for i := range addrs {
		wg.Go(func() {
			hw := append(hwA[:5:5], byte(0x40+i))
			resp, err := h.Handle(msg(t, dhcpv4.MessageTypeDiscover, hw), t0)
			if err != nil || resp == nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			addrs[i] = addr4(resp.YourIPAddr)
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 3*d {
		t.Errorf("10 DISCOVERs with a %v prober took %v", d, took)
	}
	seen := map[netip.Addr]bool{}
	for i, a := range addrs {
		if !cfg.InRange(a) || seen[a] {
			t.Errorf("client %d offered %v (offers %v)", i, a, addrs)
		}
		seen[a] = true
	}
	// A retransmission during the probe is not answered twice.
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Handle(msg(t, dhcpv4.MessageTypeDiscover, hwC), t0)
	}()
	time.Sleep(d / 4)
	if resp, err := h.Handle(msg(t, dhcpv4.MessageTypeDiscover, hwC), t0); resp != nil || err == nil {
		t.Errorf("DISCOVER during its own probe: %v, %v", resp, err)
	}
	<-done
}
