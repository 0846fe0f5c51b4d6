package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// DefaultSocketPath is where the daemon listens and the commands connect
// unless bindcmdaddress names another path.
const DefaultSocketPath = "/run/ntpbox/ntpbox.sock"

// SocketPath is the control socket of the daemon run with cfg, found as
// chrony finds its command socket:
//
//   - `bindcmdaddress /some/abs/path`: that path;
//   - `bindcmdaddress /`: "" — the socket is disabled, as in chrony;
//   - no bindcmdaddress, or an IP address: DefaultSocketPath. In chrony an
//     IP address binds the UDP command port, which ntpbox does not have;
//     the unix socket stays at its default path, as it does in chrony.
//
// A nil cfg (no config file) gives DefaultSocketPath.
func SocketPath(cfg *config.Config) string {
	if cfg == nil {
		return DefaultSocketPath
	}
	switch a := cfg.BindCmdAddress; {
	case a == "/":
		return ""
	case filepath.IsAbs(a):
		return a
	}
	return DefaultSocketPath
}

// Listen opens the control socket at path for Serve.
//
// It creates the parent directory (mode 0755) if needed. A socket file
// left behind by a daemon that is gone is removed; Listen refuses to
// remove anything else at path, and refuses to take over a socket some
// process still answers on. The socket is mode 0660: root and the
// socket's group may query the daemon. Closing the listener removes the
// socket file.
func Listen(path string) (net.Listener, error) {
	if !filepath.IsAbs(path) || path == "/" {
		return nil, fmt.Errorf("control socket %q: want an absolute path of a socket file", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket %s: create directory: %w", path, err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, opErr(err))
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: chmod 0660: %w", path, err)
	}
	return ln, nil
}

// removeStale removes a socket file at path that nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("control socket %s: exists and is not a socket (mode %s); refusing to remove it", path, fi.Mode())
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another process is listening on it (is ntpbox serve already running?)", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
	}
	return nil
}

// opErr drops the "listen unix PATH: " / "dial unix PATH: " prefix of a
// *net.OpError for messages that name the path themselves, keeping e.g.
// "connect: no such file or directory".
func opErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
