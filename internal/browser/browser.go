// Package browser loads a page in a real headless Chromium, for tests: it
// speaks the DevTools protocol over the pipe Chromium opens on file
// descriptors 3 and 4 (--remote-debugging-pipe), so it needs no port and
// works through `ip netns exec` into a test's network namespace. It
// reports every request the page made, those that failed, what the
// console said, the DOM as loaded, the navigation timings, and
// screenshots.
//
//	r, err := browser.Load(ctx, browser.Options{URL: srv.URL})
//	// r.DOM, r.Requests, r.Failed, r.Console, r.Timing, r.Screenshots
package browser

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Options says what to load, and how.
type Options struct {
	URL string
	// Command makes the command that runs Chromium with args (the first
	// is the program); nil runs it here. A test passes its lab's
	// `ip netns exec NS` wrapper.
	Command func(name string, args ...string) *exec.Cmd
	// Width is the viewport's width in CSS pixels (1280 if 0); below 600
	// the page is shown as on a phone.
	Width int
	// Screenshots are the widths to take a PNG at, after the load, each
	// of the top Height pixels (1600 if 0).
	Screenshots []int
	Height      int
}

// Result is what the page did.
type Result struct {
	DOM      string   // document.documentElement.outerHTML after the load
	Requests []string // every URL requested, in order
	// Failed are the requests that failed, or were answered with a
	// status of 400 or more: "URL: reason".
	Failed []string
	// Console is what the page's console and Chromium's log for the page
	// said at warning level or above, with uncaught exceptions.
	Console []string
	// Timing is from the Navigation Timing of the document.
	Timing Timing
	// Screenshots are PNGs, by width.
	Screenshots map[int][]byte
	Stderr      string // Chromium's, for the test log
}

// Timing is the page's Navigation Timing, from the start of the
// navigation.
type Timing struct {
	ResponseStart time.Duration // the first byte of the response
	ResponseEnd   time.Duration // the last byte
	DOMComplete   time.Duration
	LoadEnd       time.Duration // the load event is done
	TransferSize  int           // bytes on the wire, headers included
}

// Chromium is the program Load runs.
var Chromium = "chromium"

// Available says why Load cannot run here, or nil.
func Available() error {
	if _, err := exec.LookPath(Chromium); err != nil {
		return fmt.Errorf("no %s: %w (Debian package chromium, in build/deps.sh)", Chromium, err)
	}
	return nil
}

// Load starts Chromium, loads opts.URL in a new tab, waits for its load
// event and gathers the Result; Chromium is gone when it returns.
func Load(ctx context.Context, opts Options) (*Result, error) {
	if opts.URL == "" {
		return nil, errors.New("browser: no URL")
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	if opts.Width == 0 {
		opts.Width = 1280
	}
	if opts.Height == 0 {
		opts.Height = 1600
	}
	dir, err := os.MkdirTemp("", "ntpbox-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	args := []string{
		"--headless=new", "--no-sandbox", "--disable-gpu",
		"--remote-debugging-pipe", "--user-data-dir=" + dir,
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		// Chromium's own traffic (updates, safe browsing, metrics) stays
		// off, and it resolves no name: tests load addresses.
		"--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
		"--disable-client-side-phishing-detection", "--metrics-recording-only",
		"--no-pings", "--dns-prefetch-disable",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE " + u.Hostname(),
		"--mute-audio", "--hide-scrollbars",
		"about:blank",
	}
	command := opts.Command
	if command == nil {
		command = exec.Command
	}
	cmd := command(Chromium, args...)
	// Chromium reads the protocol on fd 3 and writes it on fd 4.
	toR, toW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		toR.Close()
		toW.Close()
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{toR, fromW}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{toR, toW, fromR, fromW} {
			f.Close()
		}
		return nil, fmt.Errorf("start %s: %w", Chromium, err)
	}
	toR.Close()
	fromW.Close()
	c := newConn(toW, fromR)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Whatever happens, Chromium does not outlive Load: closing its
	// pipe ends the browser; a kill if it lingers.
	stop := func() {
		toW.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		fromR.Close()
	}
	// A blocked read ends when the context does.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-done:
		}
	}()
	r, err := load(c, opts)
	close(done)
	if err == nil {
		c.call("", "Browser.close", nil, nil) // error or not, it is going
	}
	stop()
	if r != nil {
		r.Stderr = stderr.String()
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("chromium %s: %w\n%s", opts.URL, err, tail(stderr.String(), 2000))
	}
	return r, nil
}

// tail is the end of Chromium's stderr, without the lines about D-Bus,
// which a test machine has not and Chromium does not need.
func tail(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "dbus") && !strings.Contains(l, "DBus") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	s = strings.Join(keep, "\n")
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
