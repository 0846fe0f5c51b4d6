package upstream_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The NTP service must never wait for entropy. On a PC without RDRAND
// and without an RNG device (QEMU's TCG default CPU is one), the
// kernel's random pool is not ready for minutes after boot, and
// crypto/rand blocks until it is: a box would answer no NTP request and
// send no poll until then. The engine's nonces and the query client's
// low bits therefore come from math/rand/v2, which the runtime seeds
// from the kernel's AT_RANDOM bytes without waiting.
//
// This test fails when crypto/rand becomes reachable from the NTP
// packages (go list -deps), except through the edges listed in
// entropyExceptions, each with the reason it cannot block the NTP path.
func TestNTPPackagesDoNotImportCryptoRand(t *testing.T) {
	roots := []string{
		"github.com/ntpbox/ntpbox/ntpserver",
		"github.com/ntpbox/ntpbox/ntpserver/upstream",
		"github.com/ntpbox/ntpbox/ntpserver/daemon",
	}
	out, err := exec.Command(goTool(t), append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}, roots...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	// Breadth-first from the roots, remembering how each package was
	// reached, so that a failure names the chain of imports.
	via := map[string]string{}
	queue := append([]string(nil), roots...)
	for _, r := range roots {
		via[r] = ""
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range imports[p] {
			if _, seen := via[q]; seen || entropyExceptions[p+" -> "+q] != "" {
				continue
			}
			via[q] = p
			queue = append(queue, q)
		}
	}
	if _, ok := via["crypto/rand"]; ok {
		chain := []string{"crypto/rand"}
		for p := via["crypto/rand"]; p != ""; p = via[p] {
			chain = append([]string{p}, chain...)
		}
		t.Errorf("the NTP packages import crypto/rand, which blocks until the kernel's pool is ready:\n\t%s",
			strings.Join(chain, "\n\t-> "))
	}
	for edge := range entropyExceptions {
		f := strings.SplitN(edge, " -> ", 2)
		if !contains(imports[f[0]], f[1]) {
			t.Errorf("exception %q no longer needed: remove it", edge)
		}
	}
}

// entropyExceptions are imports through which crypto/rand is reachable
// but never read on the NTP path.
// (None today; an entry is "importer -> imported": "why it never blocks".)
var entropyExceptions = map[string]string{}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// goTool returns the go command that runs the tests.
func goTool(t *testing.T) string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
