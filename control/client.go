package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// Request sends cmd to the daemon listening on the unix socket at path and
// decodes its result into out: a *[]SourceReport for sources and
// sourcestats, a *TrackingReport for tracking, a *[]ClientReport for
// clients. ctx bounds the whole exchange; without a deadline in ctx, a
// daemon that accepts but never answers blocks Request.
//
// The errors say what to do:
//
//	cannot reach ntpbox at /run/ntpbox/ntpbox.sock: is `ntpbox serve` running? (connect: no such file or directory)
func Request(ctx context.Context, path, cmd string, out any) error {
	return RequestArgs(ctx, path, cmd, nil, out)
}

// RequestArgs is Request for a command that takes arguments (burst's
// BurstArgs); nil args sends none.
func RequestArgs(ctx context.Context, path, cmd string, args, out any) error {
	r := request{Cmd: cmd}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("ntpbox at %s: encode %q arguments: %w", path, cmd, err)
		}
		r.Args = b
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return dialError(path, err)
	}
	defer conn.Close()
	// Once ctx is done, fail the I/O in progress; ctx.Err() is then set,
	// and ctxErr reports it rather than the i/o timeout.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("ntpbox at %s: encode %q: %w", path, cmd, err)
	}
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("ntpbox at %s: send %s: %w", path, cmd, ctxErr(ctx, err))
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(conn, maxResponse)).Decode(&resp); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			err = errors.New("connection closed without an answer")
		}
		return fmt.Errorf("ntpbox at %s: read %s answer: %w", path, cmd, ctxErr(ctx, err))
	}
	if resp.Error != "" {
		return fmt.Errorf("ntpbox at %s: %s", path, resp.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("ntpbox at %s: decode %s answer: %w", path, cmd, err)
	}
	return nil
}

// dialError explains a failed connect: nobody listening, or not allowed.
func dialError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("cannot reach ntpbox at %s: permission denied: run as root or as a member of the socket's group (%w)", path, opErr(err))
	}
	return fmt.Errorf("cannot reach ntpbox at %s: is `ntpbox serve` running? (%w)", path, opErr(err))
}

// ctxErr prefers the context's reason over the i/o timeout it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// History asks the daemon at path for the clock's history (CmdHistory):
// its state at each clock update of the last 24 hours, oldest first.
func History(ctx context.Context, path string) ([]upstream.HistoryPoint, error) {
	var h []upstream.HistoryPoint
	if err := Request(ctx, path, CmdHistory, &h); err != nil {
		return nil, err
	}
	return h, nil
}
