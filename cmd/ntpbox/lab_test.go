package main

// Helpers for tests that run the real binary and real NTP clients in
// network namespaces. Namespaces share the host's clock: everything in
// them runs without the right to set it (chronyd -x, setpriv without
// CAP_SYS_TIME), and every namespace and process is removed when the test
// ends, whether it passed or not.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var ntpboxBin string

func TestMain(m *testing.M) {
	ntpboxBin = os.Getenv("NTPBOX_BIN")
	if ntpboxBin == "" {
		dir, err := os.MkdirTemp("", "ntpbox-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ntpboxBin = filepath.Join(dir, "ntpbox")
		cmd := exec.Command("go", "build", "-o", ntpboxBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build ntpbox: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// requireTools skips the test when a tool is missing, unless
// NTPBOX_REQUIRE_TOOLS=1 (as `make test` and CI set), where a missing
// tool is a failure: CI installs them all.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
		t.Fatalf("missing %v (make deps installs the tools; tests need root)", missing)
	}
	t.Skipf("missing %v; run as root after `make deps`", missing)
}

// netns is a network namespace with only loopback, removed at cleanup.
type netns struct {
	t    *testing.T
	name string
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	ns := &netns{t: t, name: "ntpbox-t-" + hex.EncodeToString(b[:])}
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns.name).Run() })
	run(t, "ip", "-n", ns.name, "link", "set", "lo", "up")
	return ns
}

// cmd returns a command that runs inside the namespace.
func (ns *netns) cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// output runs a command in the namespace and returns its combined output.
func (ns *netns) output(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// start runs a long-lived process in the namespace; it is killed at
// cleanup and its output logged if the test failed.
func (ns *netns) start(name string, args ...string) *exec.Cmd {
	t := ns.t
	t.Helper()
	c := ns.cmd(name, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t.Cleanup(func() {
		c.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", name, strings.Join(args, " "), out.String())
		}
	})
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNtpbox runs `ntpbox serve -x` with conf in ns and waits until
// `ntpbox query` gets an answer from addr.
func startNtpbox(t *testing.T, ns *netns, conf, addr string) {
	t.Helper()
	dir := t.TempDir()
	if !strings.Contains(conf, "bindcmdaddress") {
		// Each test its own control socket: the default one may belong to
		// another daemon on this machine.
		conf += "bindcmdaddress " + dir + "/ntpbox.sock\n"
	}
	f := writeFile(t, dir, "ntpbox.conf", conf)
	ns.start(ntpboxBin, "serve", "-x", "-f", f)
	waitFor(t, "ntpbox to answer on "+addr, 10*time.Second, func() bool {
		_, err := ns.output(2*time.Second, ntpboxBin, "query", "-t", "300ms", addr)
		return err == nil
	})
}

// startChronydServer runs chronyd -x as a stratum-2 server on addr:123.
func startChronydServer(t *testing.T, ns *netns, addr string) {
	t.Helper()
	startChronydServerCmd(t, ns, addr)
}

// startChronydServerCmd is startChronydServer returning the process, so a
// test can kill it early.
func startChronydServerCmd(t *testing.T, ns *netns, addr string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	conf := writeFile(t, dir, "chrony.conf", fmt.Sprintf(`bindaddress %s
allow all
local stratum 2
cmdport 0
bindcmdaddress /
pidfile %s/chronyd.pid
`, addr, dir))
	return ns.start("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
}
