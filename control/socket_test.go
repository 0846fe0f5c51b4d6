package control

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

func TestSocketPath(t *testing.T) {
	for _, tc := range []struct {
		name, bind, want string
	}{
		{"default", "", DefaultSocketPath},
		{"path", "/var/run/ntpbox/cmd.sock", "/var/run/ntpbox/cmd.sock"},
		{"slash disables", "/", ""},
		{"IPv4 address keeps the default path", "127.0.0.1", DefaultSocketPath},
		{"IPv6 address keeps the default path", "::1", DefaultSocketPath},
	} {
		cfg := config.Default()
		cfg.BindCmdAddress = tc.bind
		if got := SocketPath(cfg); got != tc.want {
			t.Errorf("%s: SocketPath(bindcmdaddress %q) = %q, want %q", tc.name, tc.bind, got, tc.want)
		}
	}
	if got := SocketPath(nil); got != DefaultSocketPath {
		t.Errorf("SocketPath(nil) = %q", got)
	}
}

func TestListenCreatesDirAndMode(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "a", "b", "ntpbox.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o755&^umask(t) {
		t.Errorf("directory: %v, %v", di.Mode(), err)
	}
	ln.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind after Close: %v", err)
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), "ntpbox.sock")
	// A socket file nobody listens on, as a killed daemon leaves it.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	defer ln.Close()

	// A live one is another daemon's: leave it.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another process is listening") || !strings.Contains(err.Error(), path) {
		t.Errorf("live socket: %v", err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), "ntpbox.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "precious" {
		t.Error("Listen touched a regular file")
	}
	for _, bad := range []string{"", "/", "relative.sock"} {
		if _, err := Listen(bad); err == nil {
			t.Errorf("Listen(%q) succeeded", bad)
		}
	}
}

func umask(t *testing.T) os.FileMode {
	t.Helper()
	f := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(f, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

// testLogger sends the server's log to the test's.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}
