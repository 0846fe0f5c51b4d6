package ntpserver

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit is chrony's `ratelimit` in numbers: a client may send Burst
// requests back to back, then one per 2^Interval seconds on average. Of the
// requests over the limit, one in 2^Leak is answered anyway (so a client
// whose address is spoofed by an attacker still gets some service); with
// KoD > 0, one in 2^KoD of the rest is answered with a RATE Kiss-o'-Death
// so a well-behaved client slows down.
type RateLimit struct {
	Interval int // log2 seconds
	Burst    int
	Leak     int
	KoD      int
}

// Verdict is the client log's decision on one request.
type Verdict uint8

const (
	Answer Verdict = iota // answer normally
	Limit                 // over the limit: say nothing
	Kiss                  // over the limit: answer with RATE KoD
)

// ClientLog remembers recent clients by address, with bounded memory, and
// applies the rate limit. Like chrony's client log it is a hash table of
// fixed-size buckets: a new address takes a free slot in its bucket or
// evicts the record idle the longest, so one flooding address costs one
// record and cannot push the others out of their token buckets.
//
// Time is a value: every call takes the request's receive time in
// nanoseconds. Safe for concurrent use.
type ClientLog struct {
	buckets []clBucket
	mask    uint64
	seed    maphash.Seed
	limit   bool
	cost    int64 // nanoseconds of credit one response costs: 2^Interval s
	maxCred int64 // Burst * cost
	leak    uint
	kod     uint
	// Since the log was made: requests answered with RATE, and records
	// evicted to make room (chrony's "client log records dropped").
	kissed, evicted atomic.Uint64
}

const slotsPerBucket = 16

type clBucket struct {
	mu   sync.Mutex
	recs [slotsPerBucket]clRecord
}

type clRecord struct {
	addr   [16]byte
	used   bool
	credit int64 // ns of credit, capped at maxCred
	first  int64 // ns, first request seen
	last   int64 // ns, last request seen
	hits   uint32
	drops  uint32
	kods   uint32
}

// RecordSize is the memory one client record takes, for clientloglimit.
const RecordSize = 64

// NewClientLog makes a log that uses at most about limitBytes of memory
// (chrony's clientloglimit; at least one bucket). rl nil means no rate
// limiting: clients are only counted.
func NewClientLog(limitBytes int, rl *RateLimit) *ClientLog {
	n := limitBytes / (RecordSize * slotsPerBucket)
	if n < 1 {
		n = 1
	}
	n = 1 << (bits.Len(uint(n)) - 1) // round down to a power of two
	c := &ClientLog{
		buckets: make([]clBucket, n),
		mask:    uint64(n - 1),
		seed:    maphash.MakeSeed(),
	}
	if rl != nil {
		c.limit = true
		c.cost = int64(time.Second)
		if rl.Interval >= 0 {
			c.cost <<= uint(rl.Interval)
		} else {
			c.cost >>= uint(-rl.Interval)
		}
		c.maxCred = c.cost * int64(max(rl.Burst, 1))
		c.leak = uint(rl.Leak)
		c.kod = uint(rl.KoD)
	}
	return c
}

// Capacity is the number of clients the log can hold.
func (c *ClientLog) Capacity() int { return len(c.buckets) * slotsPerBucket }

// hash is a keyed hash of the whole address (IPv4 addresses mapped): a
// random seed per log, so that nobody can choose addresses that share a
// bucket and evict each other's, or a victim's, records. (It used to
// multiply only the first 8 bytes by the seed, which are zero for every
// IPv4 address.)
func (c *ClientLog) hash(a *[16]byte) uint64 {
	return maphash.Bytes(c.seed, a[:])
}

// Request logs a request from addr received at now (ns) and decides
// whether to answer it.
func (c *ClientLog) Request(addr netip.Addr, now int64) Verdict {
	key := addr.Unmap().As16()
	b := &c.buckets[c.hash(&key)&c.mask]
	b.mu.Lock()
	r, evicted := b.find(&key, now, c.maxCred)
	if evicted {
		c.evicted.Add(1)
	}
	r.hits++
	elapsed := now - r.last
	if elapsed < 0 { // the clock was stepped back
		elapsed = 0
	}
	r.last = now
	v := Answer
	if c.limit {
		r.credit += elapsed
		if r.credit > c.maxCred {
			r.credit = c.maxCred
		}
		if r.credit >= c.cost {
			r.credit -= c.cost
		} else {
			v = c.overLimit()
			switch v {
			case Limit:
				r.drops++
			case Kiss:
				r.kods++
				c.kissed.Add(1)
			}
		}
	}
	b.mu.Unlock()
	return v
}

// overLimit decides the fate of a request over the limit: leaked (answered),
// kissed, or dropped.
func (c *ClientLog) overLimit() Verdict {
	if c.leak > 0 && rand.Uint32()&(1<<c.leak-1) == 0 {
		return Answer
	}
	if c.kod > 0 && rand.Uint32()&(1<<c.kod-1) == 0 {
		return Kiss
	}
	return Limit
}

// find returns the record for key, taking a free slot or evicting the
// least recently seen record of the bucket (evicted says so). A new
// record starts with a full burst of credit.
func (b *clBucket) find(key *[16]byte, now, maxCred int64) (*clRecord, bool) {
	victim := &b.recs[0]
	for i := range b.recs {
		r := &b.recs[i]
		if r.used && r.addr == *key {
			return r, false
		}
		if !r.used {
			if victim.used {
				victim = r
			}
			continue
		}
		if victim.used && r.last < victim.last {
			victim = r
		}
	}
	evicted := victim.used
	*victim = clRecord{addr: *key, used: true, credit: maxCred, first: now, last: now}
	return victim, evicted
}

// Kissed is the number of requests answered with a RATE kiss-o'-death
// since the log was made.
func (c *ClientLog) Kissed() uint64 { return c.kissed.Load() }

// Evicted is the number of client records dropped to make room for
// others since the log was made.
func (c *ClientLog) Evicted() uint64 { return c.evicted.Load() }

// ClientStats is a snapshot of one client's record.
type ClientStats struct {
	Addr              netip.Addr
	Hits, Drops, KoDs uint32
	First, Last       int64 // ns, as passed to Request
}

// Clients returns a snapshot of every client in the log.
func (c *ClientLog) Clients() []ClientStats {
	var out []ClientStats
	for i := range c.buckets {
		b := &c.buckets[i]
		b.mu.Lock()
		for j := range b.recs {
			r := &b.recs[j]
			if !r.used {
				continue
			}
			out = append(out, ClientStats{
				Addr: netip.AddrFrom16(r.addr).Unmap(),
				Hits: r.hits, Drops: r.drops, KoDs: r.kods,
				First: r.first, Last: r.last,
			})
		}
		b.mu.Unlock()
	}
	return out
}
