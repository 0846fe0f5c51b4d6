//go:build linux

// Package nstest has what tests need to run things in network
// namespaces of their own: a namespace removed at cleanup, ip(8)
// commands, and a way to run a test binary's helper inside one. Every
// address tests give is in 198.18.0.0/15 (RFC 2544's benchmarking
// range), and nothing leaves the machine.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NeedRoot skips a test without root and ip(8), or fails it under
// NTPBOX_REQUIRE_TOOLS=1 (make test, CI), where a skipped test would
// hide a missing install step.
func NeedRoot(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("ip")
	if os.Geteuid() == 0 && err == nil {
		return
	}
	if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
		t.Fatal("needs root and ip(8)")
	}
	t.Skip("needs root and ip(8)")
}

// IP runs ip(8) with args and fails the test if it fails.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// New creates a network namespace with lo up, removed at cleanup.
func New(t testing.TB) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := "ntpbox-t-" + hex.EncodeToString(b[:])
	IP(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	IP(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// Helper returns a command that runs this test binary's test named
// helper inside namespace ns, with env added to the environment; the
// helper test skips itself when its variable is not set.
func Helper(t testing.TB, ns, helper string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^"+helper+"$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), env...)
	return c
}
