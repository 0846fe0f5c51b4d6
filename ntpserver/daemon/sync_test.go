package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// flakyResolver fails the first fails lookups of each name, then answers.
type flakyResolver struct {
	fails int
	calls atomic.Int32
	addr  netip.Addr
}

func (r *flakyResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if int(r.calls.Add(1)) <= r.fails {
		return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
	}
	return []netip.Addr{r.addr}, nil
}

// upstreamServer serves `local stratum 2` on 127.0.0.1 and returns its port.
func upstreamServer(t *testing.T) int {
	t.Helper()
	cfg, _, err := config.ParseBytes("up.conf", []byte("local stratum 2\nallow 127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := ntpserver.NewFromConfig(cfg, nil, nil)
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(pc) })
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// TestSyncerResolvesRetriesAndSyncs: a name that does not resolve at
// first is retried, not fatal; once it resolves the source is polled and
// selected, and the server is handed stratum 3.
func TestSyncerResolvesRetriesAndSyncs(t *testing.T) {
	port := upstreamServer(t)
	cfg, _, err := config.ParseBytes("box.conf", []byte(
		"server upstream.test iburst minpoll -1 maxpoll -1 port "+strconv.Itoa(port)+"\nallow 127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clk := clock.NewNoControl(clock.System())
	eng := upstream.NewEngine(upstream.Config{MinSources: 1, Precision: -20, HasSources: true}, clk, log)
	srv := ntpserver.NewFromConfig(cfg, nil, nil)
	res := &flakyResolver{fails: 2, addr: netip.MustParseAddr("127.0.0.1")}
	s, err := newSyncer(eng, clk, srv, cfg.Sources, netstate.State{}, 0, nil, res, "", log)
	if err != nil {
		t.Fatal(err)
	}
	s.retry = []time.Duration{50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}()

	if n := s.unresolved.Load(); res.calls.Load() < 3 && n != 1 {
		t.Errorf("%d sources without an address before the name resolved, want 1", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for srv.State().Stratum != 3 {
		if time.Now().After(deadline) {
			s.mu.Lock()
			src := s.eng.Sources()
			s.mu.Unlock()
			t.Fatalf("not synchronised after 30 s: state %+v, sources %+v, lookups %d", srv.State(), src, res.calls.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := res.calls.Load(); n != 3 {
		t.Errorf("%d lookups, want 2 failures and 1 success", n)
	}
	if st := srv.State(); st.RefID != 0x7F000001 {
		t.Errorf("refid %#x, want 127.0.0.1", st.RefID)
	}
	// The replies' destination reaches the engine: our address towards
	// the source, for orphan mode and the sync-loop check.
	s.mu.Lock()
	src := s.eng.Sources()
	s.mu.Unlock()
	if src[0].LocalAddr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("local address towards the source %v, want 127.0.0.1", src[0].LocalAddr)
	}
}

// startSyncer runs a syncer for lines until the test ends.
func startSyncer(t *testing.T, lines []config.Source, local netstate.State, servePort int) (*syncer, context.Context) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clk := clock.NewNoControl(clock.System())
	eng := upstream.NewEngine(upstream.Config{MinSources: 1, Precision: -20, HasSources: len(lines) > 0}, clk, log)
	cfg, _, _ := config.ParseBytes("box.conf", []byte("allow 127.0.0.1\n"))
	srv := ntpserver.NewFromConfig(cfg, nil, nil)
	s, err := newSyncer(eng, clk, srv, lines, local, servePort, nil, net.DefaultResolver, "", log)
	if err != nil {
		t.Fatal(err)
	}
	return s, runLoop(t, s)
}

// runLoop runs s's loop until the test ends and returns its context.
func runLoop(t *testing.T, s *syncer) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	})
	return ctx
}

// sourceAddrs lists the engine's sources' addresses.
func sourceAddrs(s *syncer) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.eng.Sources() {
		out = append(out, r.Addr.String())
	}
	return out
}

func waitSources(t *testing.T, s *syncer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := fmt.Sprint(sourceAddrs(s))
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sources %s, want %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaseSource(addr string, port int) config.Source {
	return config.Source{Origin: config.Origin{Layer: config.LayerLease}, Host: addr, Port: port, IBurst: true, MinPoll: -1, MaxPoll: -1}
}

// TestSyncerFollowsLeaseSources: sources come and go with the config, as
// option 42 of a DHCP lease names them, and a source keeps its engine
// state when an update names it again.
func TestSyncerFollowsLeaseSources(t *testing.T) {
	port := upstreamServer(t)
	s, ctx := startSyncer(t, nil, netstate.State{}, 0)
	a := leaseSource("127.0.0.1", port)
	s.update(ctx, syncUpdate{sources: []config.Source{a}})
	want := fmt.Sprintf("[127.0.0.1:%d]", port)
	waitSources(t, s, want)
	deadline := time.Now().Add(20 * time.Second)
	for s.srv.State().Stratum != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not synchronised to the lease's server: %+v", s.srv.State())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	id := s.byAddr[netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))]
	s.mu.Unlock()
	s.update(ctx, syncUpdate{sources: []config.Source{a}}) // a renewal with the same option 42
	s.update(ctx, syncUpdate{sources: []config.Source{a}})
	waitSources(t, s, want)
	s.mu.Lock()
	same := s.byAddr[netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))] == id
	s.mu.Unlock()
	if !same {
		t.Error("a renewal with the same server replaced the source")
	}
	s.update(ctx, syncUpdate{sources: []config.Source{}}) // the lease expired
	waitSources(t, s, "[]")
}

// TestSyncerNeverPollsItself: a source at one of the box's own addresses
// and its serving port is never polled (a box whose option 42 names it),
// and is polled once that address is no longer the box's.
func TestSyncerNeverPollsItself(t *testing.T) {
	port := upstreamServer(t)
	self := netstate.State{Links: []netstate.Link{{Name: "lo", Up: true, Loopback: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}}}}
	s, ctx := startSyncer(t, []config.Source{leaseSource("127.0.0.1", port)}, self, port)
	time.Sleep(300 * time.Millisecond)
	waitSources(t, s, "[]")
	// Another port on the same address is someone else: polled.
	s.update(ctx, syncUpdate{sources: []config.Source{leaseSource("127.0.0.1", port), leaseSource("127.0.0.1", port+1)}})
	waitSources(t, s, fmt.Sprintf("[127.0.0.1:%d]", port+1))
	// The box's links change: 127.0.0.1 is no longer its own.
	s.update(ctx, syncUpdate{local: &netstate.State{}})
	waitSources(t, s, fmt.Sprintf("[127.0.0.1:%d 127.0.0.1:%d]", port+1, port))
	// And back: the source is dropped.
	s.update(ctx, syncUpdate{local: &self})
	waitSources(t, s, fmt.Sprintf("[127.0.0.1:%d]", port+1))
}

// switchResolver fails until working is set.
type switchResolver struct {
	working atomic.Bool
	calls   atomic.Int32
	addr    netip.Addr
}

func (r *switchResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if !r.working.Load() {
		return nil, &net.DNSError{Err: "no DNS server yet", Name: host, IsTemporary: true}
	}
	return []netip.Addr{r.addr}, nil
}

// TestSyncerLooksUpAgainWhenResolversChange: a name that failed while the
// box had no DNS servers is looked up as soon as a lease brings some, not
// after its back-off (minutes by then).
func TestSyncerLooksUpAgainWhenResolversChange(t *testing.T) {
	port := upstreamServer(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := clock.NewNoControl(clock.System())
	eng := upstream.NewEngine(upstream.Config{MinSources: 1, Precision: -20, HasSources: true}, clk, log)
	cfg, _, _ := config.ParseBytes("box.conf", []byte("allow 127.0.0.1\n"))
	res := &switchResolver{addr: netip.MustParseAddr("127.0.0.1")}
	line := config.Source{Host: "upstream.test", Port: port, IBurst: true, MinPoll: -1, MaxPoll: -1}
	s, err := newSyncer(eng, clk, ntpserver.NewFromConfig(cfg, nil, nil), []config.Source{line}, netstate.State{}, 0, nil, res, "", log)
	if err != nil {
		t.Fatal(err)
	}
	s.retry = []time.Duration{time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	defer func() { cancel(); <-done }()
	for res.calls.Load() == 0 { // the first lookup fails; the next is an hour away
		time.Sleep(10 * time.Millisecond)
	}
	res.working.Store(true)
	s.update(ctx, syncUpdate{resolvers: true})
	waitSources(t, s, fmt.Sprintf("[127.0.0.1:%d]", port))
}

// namedResolver answers each name with its addresses and counts lookups.
type namedResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	calls map[string]int
}

func (r *namedResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[host]++
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *namedResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// runSyncer starts a syncer for conf's sources with res, after prepare
// (which may change the syncer before its loop starts), until the test
// ends.
func runSyncer(t *testing.T, conf string, res Resolver, prepare func(*syncer)) (*syncer, *ntpserver.Server) {
	t.Helper()
	cfg, _, err := config.ParseBytes("box.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clk := clock.NewNoControl(clock.System())
	eng := upstream.NewEngine(upstream.Config{MinSources: 1, Precision: -20, HasSources: true}, clk, log)
	srv := ntpserver.NewFromConfig(cfg, nil, nil)
	s, err := newSyncer(eng, clk, srv, cfg.Sources, netstate.State{}, 0, nil, res, "", log)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(s)
	}
	runLoop(t, s)
	return s, srv
}

// A named server that never answers is looked up again once it is
// unreachable (8 polls), and then not again until a random wait of up to
// about an hour has passed (chrony's NSR_HandleBadSource), not every
// few seconds forever. Here the wait is drawn as 30 minutes.
func TestSyncerReplacesUnreachableRarely(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close() // open, so no ICMP error: requests just go unanswered
	port := silent.LocalAddr().(*net.UDPAddr).Port
	res := &namedResolver{addrs: map[string][]netip.Addr{"dead.test": {netip.MustParseAddr("127.0.0.1")}}, calls: map[string]int{}}
	var waits atomic.Int32
	runSyncer(t, fmt.Sprintf("server dead.test minpoll -2 maxpoll -2 port %d\n", port), res, func(s *syncer) {
		s.replaceWait = func() time.Duration { waits.Add(1); return 30 * time.Minute }
	})
	// 8 polls at 0.25 s make it unreachable after about 2 s; without the
	// wait it would be replaced about every 3 s.
	deadline := time.Now().Add(20 * time.Second)
	for res.count("dead.test") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the unreachable source was never looked up again (%d lookups)", res.count("dead.test"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(12 * time.Second)
	if n := res.count("dead.test"); n != 2 {
		t.Errorf("%d lookups in 12 s after the first replacement, want 2 in all (the next after the wait)", n)
	}
	if n := waits.Load(); n != 1 {
		t.Errorf("%d waits drawn, want 1", n)
	}
}

// deniedServer answers every request with a DENY Kiss-o'-Death and
// counts the requests.
func deniedServer(t *testing.T, pc *net.UDPConn) *atomic.Int32 {
	var n atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 512)
		for {
			k, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if k < wire.HeaderLen {
				continue
			}
			n.Add(1)
			out := make([]byte, wire.HeaderLen)
			out[wire.OffFlags] = byte(wire.LeapUnsynchronised)<<6 | 4<<3 | byte(wire.ModeServer)
			binary.BigEndian.PutUint32(out[wire.OffRefID:], wire.KissCode("DENY"))
			copy(out[wire.OffOrigin:wire.OffOrigin+8], buf[wire.OffTransmit:wire.OffTransmit+8])
			pc.WriteToUDPAddrPort(out, from)
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return &n
}

// A pool member that refuses us (DENY) is replaced at once by another
// address of the pool, which is then selected; the refusing address is
// not taken again.
func TestSyncerPoolRefusedTakesAnotherAddress(t *testing.T) {
	// One port on both addresses (a pool line has one port): a port free
	// on 127.0.0.1 is almost always free on 127.0.0.2; try a few.
	var deny, good *net.UDPConn
	var port int
	for try := 0; good == nil; try++ {
		d, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port = d.LocalAddr().(*net.UDPAddr).Port
		g, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port})
		if err != nil {
			d.Close()
			if try == 10 {
				t.Fatalf("no port free on both 127.0.0.1 and 127.0.0.2: %v", err)
			}
			continue
		}
		deny, good = d, g
	}
	denied := deniedServer(t, deny)
	upCfg, _, err := config.ParseBytes("up.conf", []byte("local stratum 2\nallow 127.0.0.0/8\n"))
	if err != nil {
		t.Fatal(err)
	}
	up := ntpserver.NewFromConfig(upCfg, nil, nil)
	var wg sync.WaitGroup
	wg.Go(func() { up.Serve(good) })
	t.Cleanup(func() { good.Close(); wg.Wait() })

	res := &namedResolver{addrs: map[string][]netip.Addr{"pool.test": {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}, calls: map[string]int{}}
	s, srv := runSyncer(t, fmt.Sprintf("pool pool.test iburst maxsources 1 minpoll -2 maxpoll -2 port %d\nallow 127.0.0.1\n", port), res, nil)
	deadline := time.Now().Add(20 * time.Second)
	for srv.State().Stratum != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not synchronised to the pool's other address after 20 s: sources %v, %d denied requests", sourceAddrs(s), denied.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := fmt.Sprint(sourceAddrs(s)), fmt.Sprintf("[127.0.0.2:%d]", port); got != want {
		t.Errorf("sources %s, want %s", got, want)
	}
	n := denied.Load()
	if n == 0 {
		t.Fatal("the refusing member was never polled: the test shows nothing")
	}
	// The pool was looked up again when the member was replaced; the
	// refusing address came back in the answer and was not taken.
	time.Sleep(3 * time.Second)
	if m := denied.Load(); m != n {
		t.Errorf("the refusing member was polled again: %d requests, then %d", n, m)
	}
	if got := fmt.Sprint(sourceAddrs(s)); got != fmt.Sprintf("[127.0.0.2:%d]", port) {
		t.Errorf("sources %s after 3 s", got)
	}
}

// TestSyncerCountsUnresolved: a server line whose name does not resolve
// counts 1 source with an unknown address, a pool line its maxsources,
// and a line that resolved none (chronyc activity).
func TestSyncerCountsUnresolved(t *testing.T) {
	port := upstreamServer(t)
	cfg, _, err := config.ParseBytes("box.conf", []byte(fmt.Sprintf(
		"server nowhere.test\npool pool.test maxsources 3\nserver 127.0.0.1 port %d\nallow 127.0.0.1\n", port)))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewNoControl(clock.System())
	eng := upstream.NewEngine(upstream.Config{MinSources: 1, Precision: -20, HasSources: true}, clk, log)
	srv := ntpserver.NewFromConfig(cfg, nil, nil)
	res := &flakyResolver{fails: 1 << 30}
	s, err := newSyncer(eng, clk, srv, cfg.Sources, netstate.State{}, 0, nil, res, "", log)
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, s)
	waitSources(t, s, fmt.Sprintf("[127.0.0.1:%d]", port))
	deadline := time.Now().Add(10 * time.Second)
	for s.unresolved.Load() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sources without an address, want 1 + 3", s.unresolved.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
