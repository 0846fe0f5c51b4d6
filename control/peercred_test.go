//go:build linux

package control

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/internal/nstest"
)

// reloadCounter is a provider that counts reloads.
type reloadCounter struct {
	*fakeProvider
	reloads int
}

func (r *reloadCounter) Reload() error { r.reloads++; return nil }

// When the test binary runs as the peer (TestStateChangesNeedOwner), it
// sends the request in CONTROL_PEER_REQUEST to the socket in
// CONTROL_PEER_SOCKET and prints the answer.
func init() {
	path, req := os.Getenv("CONTROL_PEER_SOCKET"), os.Getenv("CONTROL_PEER_REQUEST")
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		os.Stdout.WriteString("dial: " + err.Error())
		os.Exit(1)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req+"\n")
	b, _ := io.ReadAll(c)
	os.Stdout.Write(b)
	os.Exit(0)
}

// TestStateChangesNeedOwner: a process of the socket's group but another
// user (on the appliance, the DHCP, DNS or web service) reads the
// reports, but may not reload, step the clock or start a burst; root may.
func TestStateChangesNeedOwner(t *testing.T) {
	nstest.NeedRoot(t) // to run the peer as another user; CI runs as root
	p := &reloadCounter{fakeProvider: testProvider()}
	path := startServer(t, p, 5*time.Second)
	// The peer (uid 65534) must reach the socket and run a copy of this
	// binary.
	for d := path; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(path, 0o666)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(filepath.Dir(path), "peer")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ask := func(uid uint32, req string) string {
		cmd := exec.Command(bin)
		cmd.Env = []string{"CONTROL_PEER_SOCKET=" + path, "CONTROL_PEER_REQUEST=" + req}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("peer uid %d: %v\n%s", uid, err, out)
		}
		return string(out)
	}
	if out := ask(65534, `{"cmd":"tracking"}`); !strings.Contains(out, `"ok":true`) && !strings.Contains(out, "ref_id") {
		t.Errorf("tracking from uid 65534: %s, want the report", out)
	}
	for _, req := range []string{`{"cmd":"reload"}`, `{"cmd":"makestep"}`, `{"cmd":"burst","args":{"good":4,"max":4}}`} {
		if out := ask(65534, req); !strings.Contains(out, "not authorised") {
			t.Errorf("%s from uid 65534: %s, want not authorised", req, out)
		}
	}
	if p.reloads != 0 {
		t.Errorf("%d reloads from uid 65534, want 0", p.reloads)
	}
	if out := ask(0, `{"cmd":"reload"}`); strings.Contains(out, "not authorised") || p.reloads != 1 {
		t.Errorf("reload from root: %s, %d reloads; want 1", out, p.reloads)
	}
}
