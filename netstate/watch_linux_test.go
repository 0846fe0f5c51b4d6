//go:build linux

package netstate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/internal/nstest"
)

// TestWatchFollowsTheKernel runs Watch in a namespace of its own (in a
// helper process) and changes the links there as init and a DHCP lease
// do: an address arrives, is replaced by another, the link goes down
// and up. Each change must reach the watcher.
func TestWatchFollowsTheKernel(t *testing.T) {
	nstest.NeedRoot(t)
	ns, peer := nstest.New(t), nstest.New(t)
	nstest.IP(t, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer)
	nstest.IP(t, "-n", peer, "link", "set", "eth0", "up")
	cmd := nstest.Helper(t, ns, "TestWatchHelper", "NTPBOX_WATCH_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// expect waits for a state line with every one of want and none of not.
	expect := func(step string, want, not []string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("%s: helper ended", step)
				}
				if !strings.HasPrefix(l, "STATE ") {
					continue
				}
				ok = true
				for _, w := range want {
					ok = ok && strings.Contains(l, w)
				}
				for _, n := range not {
					ok = ok && !strings.Contains(l, n)
				}
				if ok {
					t.Logf("%s: %s", step, l)
					return
				}
			case <-deadline:
				t.Fatalf("%s: no state with %q and without %q", step, want, not)
			}
		}
	}
	expect("start", []string{"eth0 down"}, nil)
	nstest.IP(t, "-n", ns, "link", "set", "eth0", "up")
	nstest.IP(t, "-n", ns, "addr", "add", "198.18.0.50/24", "dev", "eth0")
	expect("lease", []string{"eth0 up", "198.18.0.50/24", "connected=[198.18.0.0/24"}, nil)
	nstest.IP(t, "-n", ns, "addr", "add", "198.18.1.60/24", "dev", "eth0")
	nstest.IP(t, "-n", ns, "addr", "del", "198.18.0.50/24", "dev", "eth0")
	expect("renumbered", []string{"198.18.1.60/24", "connected=[198.18.1.0/24"}, []string{"198.18.0.50"})
	nstest.IP(t, "-n", ns, "link", "set", "eth0", "down")
	expect("link down", []string{"eth0 down", "connected=[]"}, nil)
	nstest.IP(t, "-n", ns, "link", "set", "eth0", "up")
	expect("link up", []string{"eth0 up", "connected=[198.18.1.0/24"}, nil)
}

// TestWatchHelper is not a test: TestWatchFollowsTheKernel runs it in
// its namespace, where it prints each State Watch sends.
func TestWatchHelper(t *testing.T) {
	if os.Getenv("NTPBOX_WATCH_HELPER") == "" {
		t.Skip("helper process for TestWatchFollowsTheKernel")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for st := range Watch(ctx, nil) {
		fmt.Printf("STATE v%d %s connected=%v\n", st.Version, st, st.Connected())
	}
}
