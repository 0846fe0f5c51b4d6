package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/internal/browser"
)

// TestStatusPageInChromium: `ntpbox serve -x` follows a real chronyd and
// serves a real client; its status page (`http 127.0.0.1 port 8080`)
// loads in a real headless Chromium in the same namespace with the
// sources table naming the upstream, the three plots drawn from the
// clock's history, no request but the page, none failed and a silent
// console.
func TestStatusPageInChromium(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "ntpdig", browser.Chromium)
	ns := newNetns(t)
	const upstream = "127.0.0.11"
	startChronydServer(t, ns, upstream)
	dir := t.TempDir()
	sock := filepath.Join(dir, "ntpbox.sock")
	conf := fmt.Sprintf("server %s iburst minpoll 1 maxpoll 1\nallow all\nbindaddress 127.0.0.1\nlocal stratum 10\n"+
		"bindcmdaddress %s\ndriftfile %s/drift\nhttp 127.0.0.1 port 8080\n", upstream, sock, dir)
	ns.start(ntpboxBin, "serve", "-x", "-f", writeFile(t, dir, "ntpbox.conf", conf))
	waitFor(t, upstream+" selected", 60*time.Second, func() bool {
		_, states := sourcesTable(t, ns, sock)
		return states[upstream] == "*"
	})
	// A client, for the clients table.
	if out, err := ns.output(10*time.Second, "ntpdig", "-t", "1", "127.0.0.1"); err != nil {
		t.Fatalf("ntpdig: %v\n%s", err, out)
	}

	url := "http://127.0.0.1:8080/"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := browser.Load(ctx, browser.Options{URL: url, Width: 412,
		Command: func(name string, args ...string) *exec.Cmd { return ns.cmd(name, args...) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %+v", r.Timing)
	if err := browser.CheckStatusPage(r, url); err != nil {
		t.Error(err)
	}
	for _, want := range []string{
		`<span id="sync-state" class="state ok">synchronised</span>`,
		"<td>selected</td><td>" + upstream + "</td>",
		"<td>127.0.0.1</td>",
		"http 127.0.0.1 port 8080",
	} {
		if !strings.Contains(r.DOM, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(r.DOM, "no data yet") {
		t.Errorf("a plot has no data, though the clock was updated")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", r.DOM)
	}
}
