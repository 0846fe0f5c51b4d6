package appliance

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/internal/cli"
	"github.com/ntpbox/ntpbox/internal/peercred"
)

// LogSocket is where init serves its [Ring] to `ntpbox log`.
const LogSocket = "/run/ntpbox/init.sock"

// The log socket's protocol: the client sends one line, "log",
// "follow" or "reload". Init answers "log" and "follow" with the lines of
// the ring as text; for "log" it then closes the connection, for
// "follow" it goes on sending new lines until the client closes it. A
// client that sends nothing within a second, or shuts its side, gets
// "log" (so `socat - UNIX:...` works). "reload" (root only: the peer's
// credentials are checked) rereads the config, and the answer is one
// line: "reloaded", or "refused: " and why.
const (
	reqLog    = "log"
	reqFollow = "follow"
	reqReload = "reload"
)

// reloadTimeout bounds how long a reload request waits for init.
const reloadTimeout = 30 * time.Second

// ServeLog answers `ntpbox log` and `ntpbox reload` on ln until ctx is
// done; reload (nil: refused) does the reloading.
func ServeLog(ctx context.Context, ln net.Listener, r *Ring, log *slog.Logger, reload func(context.Context) error) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var pause backoff.Backoff
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE, say: wait for connections to end, as net/http
			// does, instead of spinning or giving the socket up.
			log.Error("accept", "socket", ln.Addr().String(), "err", err)
			if !pause.Wait(ctx.Done()) {
				return
			}
			continue
		}
		pause.Reset()
		go serveLogConn(ctx, c, r, reload)
	}
}

func serveLogConn(ctx context.Context, c net.Conn, r *Ring, reload func(context.Context) error) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	line, _ := bufio.NewReader(io.LimitReader(c, 64)).ReadString('\n')
	c.SetReadDeadline(time.Time{})
	if strings.TrimSpace(line) == reqReload {
		c.SetWriteDeadline(time.Now().Add(reloadTimeout + time.Second))
		io.WriteString(c, reloadAnswer(ctx, c, reload)+"\n")
		return
	}
	b, seq, changed := r.since(0)
	if _, err := c.Write(b); err != nil || strings.TrimSpace(line) != reqFollow {
		return
	}
	// Follow until the client goes: its read ends with EOF.
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(gone)
	}()
	for {
		select {
		case <-changed:
		case <-gone:
			return
		case <-ctx.Done():
			return
		}
		b, seq, changed = r.since(seq)
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// ListenLog makes the socket's directory and listens on path, replacing
// a stale socket.
func ListenLog(path string) (net.Listener, error) {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		if err := os.MkdirAll(path[:i], 0o755); err != nil {
			return nil, err
		}
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	return ln, nil
}

// LogCommand is `ntpbox log [-s SOCKET] [--follow]`: it prints init's log
// and the service's output, as kept by PID 1, and with --follow goes on printing
// new lines until interrupted. It returns the exit code.
func LogCommand(args []string) int {
	return logCommand(args, os.Stdout, os.Stderr)
}

func logCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("s", LogSocket, "init's log `socket`")
	follow := fs.Bool("follow", false, "keep printing new lines until interrupted")
	pos, err := cli.Parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if strings.Contains(err.Error(), "-f") {
			// -f is the config file in every other command.
			fmt.Fprintln(stderr, "ntpbox log: to follow the log, use --follow")
		}
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "ntpbox log: unexpected arguments %q\n", pos)
		return 2
	}
	c, err := net.Dial("unix", *sock)
	if err != nil {
		fmt.Fprintf(stderr, "ntpbox log: %v (is ntpbox running as PID 1?)\n", err)
		return 1
	}
	defer c.Close()
	req := reqLog
	if *follow {
		req = reqFollow
	}
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		fmt.Fprintf(stderr, "ntpbox log: %s: %v\n", *sock, err)
		return 1
	}
	if _, err := io.Copy(stdout, c); err != nil {
		fmt.Fprintf(stderr, "ntpbox log: %s: %v\n", *sock, err)
		return 1
	}
	return 0
}

// reloadAnswer does a reload request from c's peer, root only.
func reloadAnswer(ctx context.Context, c net.Conn, reload func(context.Context) error) string {
	if reload == nil {
		return "refused: this init cannot reload"
	}
	if uid, err := peercred.UID(c); err != nil || uid != 0 {
		return fmt.Sprintf("refused: only root may reload (peer uid %d, %v)", uid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	if err := reload(ctx); err != nil {
		return "refused: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return "reloaded"
}

// Reload asks init, over its socket sock, to reread the config (`ntpbox
// reload` on the appliance), and returns init's refusal as an error.
func Reload(sock string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return fmt.Errorf("%v (is ntpbox running as PID 1?)", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(reloadTimeout + 5*time.Second))
	if _, err := io.WriteString(c, reqReload+"\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 64<<10)).ReadString('\n')
	if err != nil {
		return fmt.Errorf("init's answer: %v", err)
	}
	if line = strings.TrimSpace(line); line != "reloaded" {
		return errors.New(line)
	}
	return nil
}

// CopyLines copies src to dst a line at a time (a line longer than
// RingLineMax goes in pieces), until src ends; write errors are ignored,
// as a console that fails must not stop the service's output.
func CopyLines(dst io.Writer, src io.Reader) {
	br := bufio.NewReaderSize(src, RingLineMax)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			dst.Write(line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
