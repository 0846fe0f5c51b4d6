package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/internal/backoff"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// The commands a client may send.
const (
	CmdSources     = "sources"     // []upstream.SourceReport
	CmdSourceStats = "sourcestats" // []upstream.SourceReport, the same data
	CmdTracking    = "tracking"    // upstream.TrackingReport
	CmdClients     = "clients"     // []ClientReport
	CmdReload      = "reload"      // ReloadResult; the daemon rereads its config (Reloader)
	CmdHistory     = "history"     // []upstream.HistoryPoint, oldest first (Historian)
	CmdActivity    = "activity"    // ActivityReport (Stats)
	CmdServerStats = "serverstats" // ServerStats (Stats)
	CmdNTPData     = "ntpdata"     // []NTPDataReport, of the sources with an address
	CmdMakeStep    = "makestep"    // MakeStepResult; the clock is stepped (Clock)
	CmdBurst       = "burst"       // BurstResult, with BurstArgs; the sources poll in a burst (Clock)
)

// Historian is a Provider that keeps the clock's history: the state at
// each clock update of the last 24 hours, oldest first.
type Historian interface {
	History() []upstream.HistoryPoint
}

// Reloader is a Provider that can reread its config: `ntpbox reload`.
// Reload returns why the new config was refused (the running one stays).
type Reloader interface {
	Reload() error
}

// ReloadResult is the answer to CmdReload.
type ReloadResult struct {
	Reloaded bool `json:"reloaded"`
}

// Limits of one control connection.
const (
	maxRequest  = 4096            // bytes of the request line
	maxResponse = 64 << 20        // bytes of a response a client accepts
	connTimeout = 5 * time.Second // for the whole exchange
	maxConns    = 16              // served at once; more wait in the backlog
)

// request and response are the two JSON lines of a connection.
type request struct {
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"` // the command's arguments (BurstArgs)
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Serve answers control connections accepted on ln from p until ln is
// closed, then waits for the connections in progress and returns nil. It
// returns an error only if ln fails for good; a failing connection is
// logged and dropped.
//
// Each connection carries one request line and gets one response line,
// all within 5 seconds; a request longer than 4096 bytes, or that is not
// JSON, or names an unknown command, gets an error response. At most 16
// connections are served at once; more wait in the listen backlog. A
// panic in p is logged and answered as an internal error.
func Serve(ln net.Listener, p Provider, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{p: p, log: log, timeout: connTimeout}
	return s.serve(ln)
}

type server struct {
	p       Provider
	log     *slog.Logger
	timeout time.Duration
}

func (s *server) serve(ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConns)
	var pause backoff.Backoff // between failing Accepts: 5 ms doubling to 1 s
	for {
		sem <- struct{}{}
		conn, err := ln.Accept()
		if err != nil {
			<-sem
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// E.g. EMFILE: wait for connections to finish, as net/http does.
			d := pause.Next()
			s.log.Warn("control accept failed", "err", err, "retry_in", d)
			time.Sleep(d)
			continue
		}
		pause.Reset()
		wg.Go(func() {
			defer func() { <-sem }()
			s.serveConn(conn)
		})
	}
}

func (s *server) serveConn(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(s.timeout))
	line, err := readLine(bufio.NewReaderSize(conn, maxRequest))
	var out []byte
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		out = errorLine(fmt.Sprintf("request longer than %d bytes", maxRequest))
	case err != nil:
		s.log.Debug("control read", "err", err)
		return
	case changesState(line) && !s.mayChange(conn):
		out = errorLine("not authorised: only root or the daemon's own user may change its state (makestep, burst, reload); the socket's group may only read")
	default:
		out, err = handle(s.p, line)
		if err != nil {
			s.log.Error("control request", "err", err)
		}
	}
	if _, err := conn.Write(out); err != nil {
		s.log.Debug("control write", "err", err)
	}
}

// readLine reads one line; a last line without '\n' counts. It fails with
// bufio.ErrBufferFull when the line does not fit in r's buffer.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return line, err
}

// handle answers one request line from p: the response line, and an
// error to log when the fault is the daemon's rather than the client's.
// It never panics, whatever the line holds and whatever p does.
func handle(p Provider, line []byte) (out []byte, err error) {
	var req request
	if err := json.Unmarshal(bytes.TrimSpace(line), &req); err != nil {
		return errorLine(fmt.Sprintf("bad request: %v", err)), nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s: panic: %v", req.Cmd, v)
			out = errorLine("internal error answering " + req.Cmd)
		}
	}()
	var result any
	switch req.Cmd {
	case CmdSources, CmdSourceStats:
		result = nonNil(p.Sources())
	case CmdTracking:
		result = p.Tracking()
	case CmdClients:
		result = nonNil(p.Clients())
	case CmdHistory:
		h, ok := p.(Historian)
		if !ok {
			return errorLine("this daemon keeps no clock history"), nil
		}
		result = nonNil(h.History())
	case CmdActivity, CmdServerStats:
		st, ok := p.(Stats)
		if !ok {
			return errorLine("this daemon keeps no counters"), nil
		}
		if req.Cmd == CmdActivity {
			result = Activity(p.Sources(), st.Unresolved())
		} else {
			result = st.ServerStats()
		}
	case CmdNTPData:
		result = NTPDataReports(p.Sources())
	case CmdMakeStep, CmdBurst:
		return clockCommand(p, req)
	case CmdReload:
		r, ok := p.(Reloader)
		if !ok {
			return errorLine("this daemon cannot reload its config"), nil
		}
		if err := r.Reload(); err != nil {
			return errorLine("reload refused, the running config stays: " + err.Error()), nil
		}
		result = ReloadResult{Reloaded: true}
	default:
		return errorLine(fmt.Sprintf("unknown command %q (want sources, sourcestats, tracking, clients, activity, serverstats, ntpdata, history, makestep, burst or reload)", req.Cmd)), nil
	}
	return resultLine(req.Cmd, result)
}

// resultLine is the response line carrying result.
func resultLine(cmd string, result any) ([]byte, error) {
	data, err := json.Marshal(result)
	if err != nil {
		return errorLine("internal error answering " + cmd), fmt.Errorf("%s: encode: %w", cmd, err)
	}
	out, err := json.Marshal(response{Result: data})
	if err != nil {
		return errorLine("internal error answering " + cmd), fmt.Errorf("%s: encode: %w", cmd, err)
	}
	return append(out, '\n'), nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func errorLine(msg string) []byte {
	out, _ := json.Marshal(response{Error: msg}) // a string always encodes
	return append(out, '\n')
}

// changesState reports whether a request line asks for a command that
// changes the daemon's state. The socket's group (on the appliance, the
// other services' processes) may read the reports, but only root and the
// daemon's own user may step the clock, start a burst or reload the
// config, as chronyc's state changes need chronyd's own socket.
func changesState(line []byte) bool {
	var req request
	if json.Unmarshal(bytes.TrimSpace(line), &req) != nil {
		return false // handle says what is wrong with it
	}
	switch req.Cmd {
	case CmdMakeStep, CmdBurst, CmdReload:
		return true
	}
	return false
}

// mayChange reports whether the peer of conn may change the daemon's
// state: root or the daemon's own user. A peer whose user cannot be
// known may not.
func (s *server) mayChange(conn net.Conn) bool {
	uid, err := peerUID(conn)
	if err != nil {
		s.log.Warn("control: refused a state change from an unknown peer", "err", err)
		return false
	}
	if uid == 0 || uid == os.Getuid() {
		return true
	}
	s.log.Warn("control: refused a state change", "peer_uid", uid)
	return false
}
