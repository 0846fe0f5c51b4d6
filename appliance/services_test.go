package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/persist"
)

func TestParseProcStatus(t *testing.T) {
	b := []byte("Name:\tntpbox\nUid:\t103\t103\t103\t103\nGid:\t100\t100\t100\t100\nCapInh:\t0000000000000400\n" +
		"CapPrm:\t0000000000000400\nCapEff:\t0000000000000400\nCapAmb:\t0000000000000400\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n")
	want := procStatus{UID: "103", CapEff: "0000000000000400", NoNewPrivs: "1", Seccomp: "2"}
	if got := parseProcStatus(b); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// The CapEff each service should show is its capabilities' bits.
func TestServiceSpecsCapEff(t *testing.T) {
	for _, s := range ServiceSpecs {
		var bits uint64
		for _, c := range s.Cred.Caps {
			bits |= 1 << c
		}
		if got := fmtCap(bits); got != s.CapEff {
			t.Errorf("%s: caps %v are %s, CapEff says %s", s.Name, s.Cred.Caps, got, s.CapEff)
		}
		if s.Cred.UID == 0 || s.Cred.GID != ServiceGID {
			t.Errorf("%s runs as %d:%d", s.Name, s.Cred.UID, s.Cred.GID)
		}
	}
}

func fmtCap(bits uint64) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = hex[bits&15]
		bits >>= 4
	}
	return string(b)
}

func TestServiceArgvHooks(t *testing.T) {
	hooks := map[string]string{"testsyscall": "dns", "testdebug": ""}
	if got, want := serviceArgv("/init", "dns", 1, hooks), []string{"/init", "serve", "-c", RunConfig, "-service", "dns", "-sandbox", "-statefd", "3", "-d", "-testsyscall", "3s"}; !reflect.DeepEqual(got, want) {
		t.Errorf("run 1: %v", got)
	}
	if got, want := serviceArgv("/init", "dns", 2, hooks), []string{"/init", "serve", "-c", RunConfig, "-service", "dns", "-sandbox", "-statefd", "3", "-d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("run 2: %v", got)
	}
	if got, want := serviceArgv("/init", "ntp", 1, hooks), []string{"/init", "serve", "-c", RunConfig, "-service", "ntp", "-sandbox", "-statefd", "3", "-d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ntp: %v", got)
	}
	hooks = map[string]string{"testsyscall": "dns:20,dhcp:35,ntp"}
	for svc, delay := range map[string]string{"dns": "20s", "dhcp": "35s", "ntp": "3s"} {
		if got, want := serviceArgv("/init", svc, 1, hooks), []string{"/init", "serve", "-c", RunConfig, "-service", svc, "-sandbox", "-statefd", "3", "-testsyscall", delay}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v", svc, got)
		}
	}
}

func TestVmRSS(t *testing.T) {
	if got := vmRSS([]byte("Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n")); got != "12345" {
		t.Errorf("got %q", got)
	}
	if got := vmRSS(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
}

// Init keeps each service's state files for it, and only those: the
// drift file for NTP, the lease file and the record of other servers
// for DHCP, nothing for DNS; the kernel beside them is refused to all.
func TestStateServerAllowsOnlyTheServiceFiles(t *testing.T) {
	dir := t.TempDir()
	drift, leases, record := filepath.Join(dir, "ntpbox.drift"), filepath.Join(dir, "dhcp.leases"), filepath.Join(dir, "dhcp.servers")
	kernel := filepath.Join(dir, "vmlinuz")
	cfg, _, err := config.ParseBytes("test.conf", []byte("driftfile "+drift+"\ndhcp auto\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	in := &Init{Log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	in.published.Store(cfg)
	defer persist.UseRemote(nil)
	for _, tc := range []struct {
		svc     string
		allowed []string
	}{
		{"ntp", []string{drift}},
		{"dhcp", []string{leases, record}},
		{"dns", nil},
	} {
		files, ended, err := in.stateServer(tc.svc)
		if err != nil {
			t.Fatal(err)
		}
		persist.UseRemote(files[0])
		for _, p := range []string{drift, leases, record, kernel} {
			err := persist.Write(p, []byte(tc.svc+"\n"), 0o644)
			if want := slices.Contains(tc.allowed, p); (err == nil) != want {
				t.Errorf("%s writes %s: %v (allowed: %v)", tc.svc, filepath.Base(p), err, want)
			}
			if err == nil {
				if b, rerr := persist.Read(p); rerr != nil || string(b) != tc.svc+"\n" {
					t.Errorf("%s reads back %s: %q, %v", tc.svc, filepath.Base(p), b, rerr)
				}
			}
		}
		persist.UseRemote(nil)
		files[0].Close()
		ended()
	}
	if _, err := os.Stat(kernel); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a service wrote %s: %v", kernel, err)
	}
	if n := strings.Count(logBuf.String(), "state file request failed"); n != 9 {
		t.Errorf("%d refusals logged, want 9:\n%s", n, logBuf.String())
	}
}

func TestStateWritesMinInterval(t *testing.T) {
	var w stateWrites
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 1500 * time.Millisecond, 2600 * time.Millisecond, 5 * time.Second} {
		w.wrote("/perm/dhcp.leases", t0.Add(at))
	}
	w.wrote("/perm/ntpbox.drift", t0)
	var b bytes.Buffer
	w.log(slog.New(slog.NewTextHandler(&b, nil)))
	for _, want := range []string{"path=/perm/dhcp.leases writes=4 min_interval=1.1s", "path=/perm/ntpbox.drift writes=1\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, b.String())
		}
	}
}

// The other services start once NTP listens, so that on a slow CPU
// they do not delay its first reply; or othersWait after NTP started,
// if it never does.
func TestOthersStartAfterNTPListens(t *testing.T) {
	for _, listens := range []bool{true, false} {
		t.Run(fmt.Sprintf("listens=%v", listens), func(t *testing.T) {
			sys := newFakeSystem("console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.allow=all")
			sys.listening = false
			r := startInitOn(t, sys)
			first := <-r.st.started
			start := time.Now()
			if first.pid != 100 {
				t.Fatalf("first start is pid %d", first.pid)
			}
			wait := othersWait
			if listens {
				wait = 300 * time.Millisecond
			}
			select {
			case p := <-r.st.started:
				t.Fatalf("another service (pid %d, argv %v) started %v after NTP, before NTP listened", p.pid, r.st.argv[len(r.st.argv)-1], time.Since(start))
			case <-time.After(wait - 100*time.Millisecond):
			}
			if listens {
				sys.mu.Lock()
				sys.listening = true
				sys.mu.Unlock()
				r.waitConsole(t, SentinelServing+" (run 1, pid 100, udp port 123)")
			}
			for range len(ServiceSpecs) - 1 {
				select {
				case <-r.st.started:
				case <-time.After(othersWait + 5*time.Second):
					t.Fatalf("the other services did not start (%d starts)", len(r.st.argv))
				}
			}
			if !listens && time.Since(start) < othersWait-50*time.Millisecond {
				t.Errorf("the others started %v after NTP; want them held %v", time.Since(start), othersWait)
			}
			r.shutdown <- syscall.SIGTERM
			<-r.sys.powerOff
			<-r.done
		})
	}
}
