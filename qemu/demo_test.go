//go:build linux

package qemu_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// `make demo ARGS=-check`, as a test: the demo program (an upstream
// ntpbox, the box under QEMU with `dhcp server` and `dns zone`, a client
// with udhcpc and chronyd) must pass every step and remove what it made.
func TestDemoCheck(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "chronyc", "busybox", "dig", "setpriv", "setsid")
	dir := t.TempDir()
	demo := filepath.Join(dir, "ntpbox-demo")
	goBuild(t, demo, "github.com/ntpbox/ntpbox/qemu/cmd/ntpbox-demo")
	bin := os.Getenv("NTPBOX_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "ntpbox")
		goBuild(t, bin, "github.com/ntpbox/ntpbox/cmd/ntpbox")
	}

	// The demo bounds its own steps; the test stops it (SIGTERM: it
	// cleans up) a minute before the test's deadline.
	timeout := 12 * time.Minute
	if dl, ok := t.Deadline(); ok {
		timeout = max(time.Until(dl)-time.Minute, 3*time.Minute)
	}
	cmd := exec.Command(demo, "-check", "-bin", bin, "-image", filepath.Dir(img.Kernel),
		"-timeout", (timeout - time.Minute).Round(time.Second).String())
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	t.Logf("ntpbox-demo -check (%.1f s):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("ntpbox-demo -check: %v", err)
	}
	for _, want := range []string{"✓ all 7 steps passed", "^* " + qemu.LabVMAddr, "10 10 123 ntp1.lab.test.", "clean-up: removed namespaces"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Nothing it made is left.
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if ns, ok := strings.CutPrefix(l, "clean-up: removed namespaces "); ok {
			for _, n := range strings.Split(ns, ", ") {
				if strings.Contains(string(list), n) {
					t.Errorf("namespace %s left behind", n)
				}
			}
		}
		if _, d, ok := strings.Cut(l, "clean-up: removed /tmp/"); ok {
			d, _, _ = strings.Cut(d, ";")
			if _, err := os.Stat("/tmp/" + d); err == nil {
				t.Errorf("directory /tmp/%s left behind", d)
			}
		}
	}
}

// goBuild builds package pkg into out.
func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}
