package ntpserver

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

const sec = int64(time.Second)

func count(c *ClientLog, a netip.Addr, start, step int64, n int) (answered, kissed int) {
	for i := 0; i < n; i++ {
		switch c.Request(a, start+int64(i)*step) {
		case Answer:
			answered++
		case Kiss:
			kissed++
		}
	}
	return
}

func TestRateLimitNormalClientsNeverLimited(t *testing.T) {
	c := NewClientLog(524288, &RateLimit{Interval: 3, Burst: 8, Leak: 2})
	a := netip.MustParseAddr("198.18.0.10")
	// chrony's iburst: up to 8 requests 2 s apart, then the normal poll.
	if got, _ := count(c, a, 0, 2*sec, 8); got != 8 {
		t.Errorf("iburst: %d of 8 answered", got)
	}
	if got, _ := count(c, a, 16*sec, 64*sec, 100); got != 100 {
		t.Errorf("64 s polling: %d of 100 answered", got)
	}
	// minpoll 1 clients (2 s) are over an 8 s interval: after the burst
	// they are limited, as in chrony.
}

func TestRateLimitFlood(t *testing.T) {
	c := NewClientLog(524288, &RateLimit{Interval: 0, Burst: 8, Leak: 2})
	flood := netip.MustParseAddr("198.18.0.66")
	normal := netip.MustParseAddr("198.18.0.10")
	// 10 s of 10000 requests/s from one address, while another polls
	// once a second.
	answered, normalAnswered := 0, 0
	for i := int64(0); i < 100000; i++ {
		now := i * sec / 10000
		if c.Request(flood, now) == Answer {
			answered++
		}
		if i%10000 == 0 && c.Request(normal, now) == Answer {
			normalAnswered++
		}
	}
	// Allowed: burst 8 + 1/s for 10 s = 18, plus about a quarter of the
	// rest leaked.
	if answered < 20000 || answered > 30000 {
		t.Errorf("flooder answered %d of 100000, want about 25%% leaked", answered)
	}
	if normalAnswered != 10 {
		t.Errorf("normal client answered %d of 10", normalAnswered)
	}
}

func TestRateLimitNoLeakAndKoD(t *testing.T) {
	c := NewClientLog(4096, &RateLimit{Interval: 0, Burst: 4, Leak: 0, KoD: 1})
	a := netip.MustParseAddr("2001:db8::1")
	answered, kissed := count(c, a, 0, 1000, 10000) // 10000 requests in 10 ms
	if answered != 4 {
		t.Errorf("answered %d, want the burst of 4 only", answered)
	}
	if kissed < 4000 || kissed > 6000 {
		t.Errorf("kissed %d, want about half of the limited", kissed)
	}
	if k := c.Kissed(); k != uint64(kissed) {
		t.Errorf("Kissed() %d, but %d requests were answered with RATE", k, kissed)
	}
}

// TestClientLogCountsEvictions: every record made room for is counted
// (chrony's "client log records dropped"), none while the log has room.
func TestClientLogCountsEvictions(t *testing.T) {
	c := NewClientLog(64*1024, nil)
	for i := range c.Capacity() / 2 {
		c.Request(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), int64(i))
	}
	// Half full: a bucket may still have overflowed, but barely.
	if e := c.Evicted(); e > uint64(c.Capacity()/8) {
		t.Errorf("%d evictions in a half-full log of %d", e, c.Capacity())
	}
	const n = 50000 // distinct addresses
	c = NewClientLog(64*1024, nil)
	for i := range n {
		c.Request(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), int64(i))
	}
	if got, want := c.Evicted(), uint64(n-len(c.Clients())); got != want {
		t.Errorf("Evicted() %d, want %d (%d addresses, %d records kept)", got, want, n, len(c.Clients()))
	}
}

func TestClientLogBounded(t *testing.T) {
	c := NewClientLog(64*1024, nil)
	if c.Capacity() != 1024 {
		t.Fatalf("capacity %d, want 1024 for 64 KiB", c.Capacity())
	}
	for i := 0; i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		c.Request(a, int64(i))
	}
	if n := len(c.Clients()); n > c.Capacity() {
		t.Errorf("%d records in a log of %d", n, c.Capacity())
	}
}

func TestClientLogEvictsIdlest(t *testing.T) {
	c := NewClientLog(RecordSize*slotsPerBucket, &RateLimit{Interval: 0, Burst: 1}) // one bucket
	poller := netip.MustParseAddr("198.18.0.1")
	c.Request(poller, 0)
	c.Request(poller, sec/2) // over limit: credit used up
	// 15 other addresses fill the bucket, then more keep arriving: the
	// poller is evicted last because it stays the most recent.
	for i := 0; i < 1000; i++ {
		now := sec + int64(i)*1000
		c.Request(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), now)
		if i%10 == 0 {
			c.Request(poller, now)
		}
	}
	found := false
	for _, s := range c.Clients() {
		if s.Addr == poller {
			found = s.Hits > 2
		}
	}
	if !found {
		t.Error("a regularly seen client was evicted by one-shot addresses")
	}
}

func TestClientLogMappedAddressIsIPv4(t *testing.T) {
	c := NewClientLog(4096, nil)
	c.Request(netip.MustParseAddr("::ffff:198.18.0.1"), 1)
	c.Request(netip.MustParseAddr("198.18.0.1"), 2)
	cl := c.Clients()
	if len(cl) != 1 || cl[0].Hits != 2 || !cl[0].Addr.Is4() {
		t.Errorf("clients %+v", cl)
	}
}

func BenchmarkClientLogRequest(b *testing.B) {
	c := NewClientLog(524288, &RateLimit{Interval: 3, Burst: 8, Leak: 2})
	a := netip.MustParseAddr("198.18.0.10")
	b.ReportAllocs()
	var now int64
	for b.Loop() {
		now += 1000
		c.Request(a, now)
	}
}

// TestClientLogFloodMemoryBound (issue 11): a million source addresses,
// IPv4 and IPv6 (random across a /48 and across the whole space), cost
// no memory beyond the configured table: Request does not allocate, and
// the log holds at most its capacity.
func TestClientLogFloodMemoryBound(t *testing.T) {
	c := NewClientLog(512*1024, &RateLimit{Interval: 3, Burst: 8, Leak: 2})
	r := rand.New(rand.NewPCG(5, 6))
	addr := func(i int) netip.Addr {
		switch i % 3 {
		case 0:
			return netip.AddrFrom4([4]byte{198, 18 + byte(r.UintN(2)), byte(r.UintN(256)), byte(r.UintN(256))})
		case 1:
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x00, 0x02 // 2001:2::/48, RFC 5180
			for j := 6; j < 16; j++ {
				b[j] = byte(r.UintN(256))
			}
			return netip.AddrFrom16(b)
		default:
			var b [16]byte
			for j := range b {
				b[j] = byte(r.UintN(256))
			}
			return netip.AddrFrom16(b)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1_000_000
	for i := range n {
		c.Request(addr(i), int64(i)*1000) // 1 µs apart: full rate
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 256*1024 {
		t.Errorf("the heap grew by %d bytes over %d addresses", grew, n)
	}
	if got := len(c.Clients()); got > c.Capacity() {
		t.Errorf("%d records in a log of %d", got, c.Capacity())
	}
	a := netip.MustParseAddr("2001:2::1")
	if allocs := testing.AllocsPerRun(1000, func() { c.Request(a, n*1000) }); allocs != 0 {
		t.Errorf("Request allocates %.1f times", allocs)
	}
}

// TestClientLogHashSeeded (issue 11): the bucket of an address depends on
// a random seed per log, for IPv4 as for IPv6, so addresses that share a
// bucket in one log (which an attacker could find offline for an
// unseeded hash) are spread over many in another.
func TestClientLogHashSeeded(t *testing.T) {
	a := NewClientLog(64*1024, nil) // 64 buckets
	bucket := func(c *ClientLog, ad netip.Addr) uint64 {
		k := ad.Unmap().As16()
		return c.hash(&k) & c.mask
	}
	for _, family := range []string{"IPv4", "IPv6"} {
		var same []netip.Addr
		for i := 0; len(same) < 64 && i < 1<<16; i++ {
			ad := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			if family == "IPv6" {
				ad = netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
			}
			if bucket(a, ad) == 0 {
				same = append(same, ad)
			}
		}
		if len(same) < 64 {
			t.Errorf("%s: only %d of 65536 addresses in bucket 0 of 64", family, len(same))
			continue
		}
		b := NewClientLog(64*1024, nil)
		spread := map[uint64]bool{}
		for _, ad := range same {
			spread[bucket(b, ad)] = true
		}
		// 64 addresses thrown at 64 buckets land in about 40; 16 is
		// far below any seeded outcome and far above an unseeded one (1).
		if len(spread) < 16 {
			t.Errorf("%s: 64 addresses of one bucket in a log land in %d buckets of another", family, len(spread))
		}
	}
}
