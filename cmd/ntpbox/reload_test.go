package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// Reload (issue 12, item 6): `ntpbox serve -x -f FILE` follows one
// chronyd upstream; FILE then names the other, and SIGHUP, then `ntpbox
// reload`, make the daemon take it (and a changed allow rule) while a
// client polls every 0.1 s: every poll is answered. A broken FILE is
// refused, with the reason, and the running config stays.
func TestReloadLosesNoReply(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd")
	ns := newNetns(t)
	startChronydServer(t, ns, "127.0.0.11")
	startChronydServer(t, ns, "127.0.0.12")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ntpbox.sock")
	conf := func(server, allow string) string {
		return fmt.Sprintf("server %s iburst minpoll 1 maxpoll 1\nallow %s\nbindaddress 127.0.0.1\nlocal stratum 10\nbindcmdaddress %s\n", server, allow, sock)
	}
	f := writeFile(t, dir, "ntpbox.conf", conf("127.0.0.11", "127.0.0.0/8"))
	daemon := ns.start(ntpboxBin, "serve", "-x", "-f", f)
	names := func() []string {
		_, states := sourcesTable(t, ns, sock)
		var n []string
		for name := range states {
			n = append(n, name)
		}
		return n
	}
	waitFor(t, "127.0.0.11 in ntpbox sources", 30*time.Second, func() bool {
		n := names()
		return len(n) == 1 && n[0] == "127.0.0.11"
	})

	// The client: one query every 0.1 s from inside the namespace.
	var mu sync.Mutex
	polls, lost := 0, []string{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		qemu.InNetns(ns.name, func() error {
			for {
				select {
				case <-stop:
					return nil
				case <-time.After(100 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := ntpserver.Query(ctx, (&net.Dialer{}).DialContext, "127.0.0.1:123", 4, time.Now)
				cancel()
				mu.Lock()
				polls++
				if err != nil {
					lost = append(lost, err.Error())
				}
				mu.Unlock()
			}
		})
	}()

	// SIGHUP with the other upstream and a narrower allow rule that
	// still covers the client.
	writeFile(t, dir, "ntpbox.conf", conf("127.0.0.12", "127.0.0.1/32"))
	daemon.Process.Signal(syscall.SIGHUP) // ip netns exec passes it on: it execs
	waitFor(t, "127.0.0.12 alone in ntpbox sources after SIGHUP", 30*time.Second, func() bool {
		n := names()
		return len(n) == 1 && n[0] == "127.0.0.12"
	})
	// A broken file is refused, with the line, and changes nothing.
	writeFile(t, dir, "ntpbox.conf", conf("127.0.0.11", "127.0.0.0/33"))
	out, err := ns.output(10*time.Second, ntpboxBin, "reload", "-s", sock)
	if err == nil || !strings.Contains(out, "reload refused") || !strings.Contains(out, "ntpbox.conf:2") {
		t.Errorf("reload of a broken file: %v\n%s", err, out)
	}
	time.Sleep(3 * time.Second)
	if n := names(); len(n) != 1 || n[0] != "127.0.0.12" {
		t.Errorf("after a refused reload the sources are %v", n)
	}
	// ntpbox reload, back to the first upstream.
	writeFile(t, dir, "ntpbox.conf", conf("127.0.0.11", "127.0.0.0/8"))
	if out, err := ns.output(10*time.Second, ntpboxBin, "reload", "-s", sock); err != nil || strings.TrimSpace(out) != "reloaded" {
		t.Fatalf("ntpbox reload: %v\n%s", err, out)
	}
	waitFor(t, "127.0.0.11 alone in ntpbox sources after ntpbox reload", 30*time.Second, func() bool {
		n := names()
		return len(n) == 1 && n[0] == "127.0.0.11"
	})
	time.Sleep(time.Second)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d polls at 0.1 s through two reloads and a refused one, %d lost", polls, len(lost))
	if polls < 20 || len(lost) > 0 {
		t.Errorf("%d of %d polls lost: %v", len(lost), polls, lost)
	}
	// The reloads restarted nothing: the client log, which a restart
	// empties, counted every poll.
	out, err = ns.output(5*time.Second, ntpboxBin, "clients", "--json", "-s", sock)
	var clients []struct {
		Addr string `json:"addr"`
		NTP  int    `json:"ntp"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(out), &clients)
	}
	if err != nil {
		t.Fatalf("ntpbox clients: %v\n%s", err, out)
	}
	for _, c := range clients {
		if c.Addr == "127.0.0.1" {
			t.Logf("the client log counts %d requests from 127.0.0.1", c.NTP)
			if c.NTP < polls {
				t.Errorf("the client log counts %d requests of %d: the service restarted", c.NTP, polls)
			}
			return
		}
	}
	t.Errorf("127.0.0.1 not in ntpbox clients:\n%s", out)
}
