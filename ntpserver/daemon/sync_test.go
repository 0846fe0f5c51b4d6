package daemon

import (
	"context"
	"errors"
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
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/clock"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
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
	s, err := newSyncer(eng, clk, srv, cfg.Sources, res, "", log)
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
