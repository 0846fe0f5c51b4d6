package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// fakeProvider answers from fixed reports.
type fakeProvider struct {
	sources  []upstream.SourceReport
	tracking upstream.TrackingReport
	clients  []ClientReport
	panics   bool
}

func (f *fakeProvider) Sources() []upstream.SourceReport {
	if f.panics {
		panic("boom")
	}
	return f.sources
}
func (f *fakeProvider) Tracking() upstream.TrackingReport { return f.tracking }
func (f *fakeProvider) Clients() []ClientReport           { return f.clients }

func testProvider() *fakeProvider {
	return &fakeProvider{
		sources:  goldenSources,
		tracking: goldenTrackings["synchronised"],
		clients:  alignedClients,
	}
}

// socketDir is a short directory for sockets: a unix socket path must fit
// in 108 bytes, which t.TempDir() under a long test name may not.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer serves p on a fresh socket until the test ends, and checks
// that Serve then returns nil.
func startServer(t *testing.T, p Provider, timeout time.Duration) string {
	t.Helper()
	path := filepath.Join(socketDir(t), "run", "ntpbox.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	s := &server{p: p, log: testLogger(t), timeout: timeout}
	go func() { done <- s.serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return path
}

func TestRequestEveryCommand(t *testing.T) {
	p := testProvider()
	path := startServer(t, p, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for _, cmd := range []string{CmdSources, CmdSourceStats} {
		var got []upstream.SourceReport
		if err := Request(ctx, path, cmd, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p.sources) {
			t.Errorf("%s: got %+v\nwant %+v", cmd, got, p.sources)
		}
	}
	var tr upstream.TrackingReport
	if err := Request(ctx, path, CmdTracking, &tr); err != nil {
		t.Fatal(err)
	}
	if !tr.RefTime.Equal(p.tracking.RefTime) {
		t.Errorf("tracking ref time %v, want %v", tr.RefTime, p.tracking.RefTime)
	}
	tr.RefTime = p.tracking.RefTime
	if tr != p.tracking {
		t.Errorf("tracking: got %+v\nwant %+v", tr, p.tracking)
	}
	var cl []ClientReport
	if err := Request(ctx, path, CmdClients, &cl); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cl, p.clients) {
		t.Errorf("clients: got %+v\nwant %+v", cl, p.clients)
	}
}

func TestRequestEmptyListsAreEmpty(t *testing.T) {
	path := startServer(t, &fakeProvider{}, 5*time.Second)
	for _, cmd := range []string{CmdSources, CmdClients} {
		raw := rawExchange(t, path, `{"cmd":"`+cmd+`"}`+"\n")
		if raw != `{"result":[]}`+"\n" {
			t.Errorf("%s: %q, want an empty list", cmd, raw)
		}
	}
}

func TestServeBadRequests(t *testing.T) {
	path := startServer(t, &fakeProvider{panics: true}, 5*time.Second)
	for _, tc := range []struct {
		name, send, want string
	}{
		{"unknown command", `{"cmd":"frobnicate"}` + "\n", `unknown command \"frobnicate\"`},
		{"no command", `{}` + "\n", `unknown command \"\"`},
		{"not JSON", "sources\n", "bad request"},
		{"binary garbage", "\x00\xff\xfe{{{\n", "bad request"},
		{"no newline before EOF", `{"cmd":"nope"}`, "unknown command"},
		{"too long", strings.Repeat("x", maxRequest+10) + "\n", "request longer than 4096 bytes"},
		{"provider panics", `{"cmd":"sources"}` + "\n", "internal error answering sources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawExchange(t, path, tc.send)
			var resp response
			if err := json.Unmarshal([]byte(raw), &resp); err != nil {
				t.Fatalf("answer %q is not JSON: %v", raw, err)
			}
			if !strings.Contains(raw, tc.want) || resp.Result != nil {
				t.Errorf("answer %q, want an error containing %q", raw, tc.want)
			}
		})
	}
	// The server is still up.
	var tr upstream.TrackingReport
	if err := Request(context.Background(), path, CmdTracking, &tr); err != nil {
		t.Errorf("after bad requests: %v", err)
	}
}

func TestServeDropsSilentConnection(t *testing.T) {
	path := startServer(t, testProvider(), 50*time.Millisecond)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Send nothing: the server gives up at its deadline and hangs up.
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a connection that sent no request", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("server did not close a silent connection")
	}
}

func TestServeManyAtOnce(t *testing.T) {
	path := startServer(t, testProvider(), 5*time.Second)
	errs := make(chan error, 3*maxConns)
	for range cap(errs) {
		go func() {
			var got []ClientReport
			errs <- Request(context.Background(), path, CmdClients, &got)
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	dir := socketDir(t)
	missing := filepath.Join(dir, "ntpbox.sock")
	err := Request(context.Background(), missing, CmdSources, nil)
	want := "cannot reach ntpbox at " + missing + ": is `ntpbox serve` running? (connect: no such file or directory)"
	if err == nil || err.Error() != want {
		t.Errorf("no daemon:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not wrap fs.ErrNotExist", err)
	}

	// A socket whose owner reads the request and hangs up without answering.
	ln, err := net.Listen("unix", filepath.Join(dir, "mute.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Close()
		}
	}()
	err = Request(context.Background(), filepath.Join(dir, "mute.sock"), CmdSources, nil)
	if err == nil || !strings.Contains(err.Error(), "connection closed without an answer") {
		t.Errorf("mute daemon: %v", err)
	}

	// An error answer names the daemon.
	path := startServer(t, testProvider(), 5*time.Second)
	err = Request(context.Background(), path, "frobnicate", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "ntpbox at "+path+": unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

func TestRequestHonoursContext(t *testing.T) {
	dir := socketDir(t)
	ln, err := net.Listen("unix", filepath.Join(dir, "slow.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, reads, never answers
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			bufio.NewReader(c).ReadString('\n')
			<-make(chan struct{})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = Request(ctx, filepath.Join(dir, "slow.sock"), CmdSources, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

// rawExchange sends raw bytes and returns the answer line.
func rawExchange(t *testing.T, path, send string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(send, "\n") {
		c.(*net.UnixConn).CloseWrite()
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read answer: %v (got %q)", err, line)
	}
	return line
}

func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"cmd":"sources"}`, `{"cmd":"sourcestats"}`, `{"cmd":"tracking"}`, `{"cmd":"clients"}`,
		`{"cmd":"x"}`, `{}`, `null`, `[]`, `{"cmd":1}`, "", "\xff",
	} {
		f.Add([]byte(s))
	}
	p := testProvider()
	f.Fuzz(func(t *testing.T, line []byte) {
		out, _ := handle(p, line)
		var resp response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer %q is not JSON: %v", out, err)
		}
		if (resp.Error == "") == (resp.Result == nil) {
			t.Fatalf("answer %q has neither or both of result and error", out)
		}
		if out[len(out)-1] != '\n' || strings.Count(string(out), "\n") != 1 {
			t.Fatalf("answer %q is not one line", out)
		}
	})
}

// historian is a Provider that keeps a clock history.
type historian struct {
	*fakeProvider
	points []upstream.HistoryPoint
}

func (h historian) History() []upstream.HistoryPoint { return h.points }

func TestHistoryCommand(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	want := []upstream.HistoryPoint{
		{Time: t0, Offset: 500 * time.Millisecond, Frequency: 0, RootDistance: 0, Synchronised: true},
		{Time: t0.Add(64 * time.Second), Offset: -12 * time.Microsecond, Frequency: 99.875, RootDistance: 312 * time.Microsecond, Synchronised: true},
		{Time: t0.Add(2 * time.Hour), Frequency: 100.002},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	path := startServer(t, historian{testProvider(), want}, 5*time.Second)
	got, err := History(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("point %d at %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Errorf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if raw := rawExchange(t, startServer(t, historian{testProvider(), nil}, 5*time.Second), `{"cmd":"history"}`+"\n"); raw != `{"result":[]}`+"\n" {
		t.Errorf("empty history: %q, want an empty list", raw)
	}
	_, err = History(ctx, startServer(t, testProvider(), 5*time.Second))
	if err == nil || !strings.Contains(err.Error(), "keeps no clock history") {
		t.Errorf("a daemon without history: %v, want it to say so", err)
	}
}
