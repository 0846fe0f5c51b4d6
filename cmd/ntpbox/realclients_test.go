package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// saneOffset: client and server share this host's clock, so anything
// beyond a few milliseconds means a wrong timestamp.
const saneOffset = 0.010

type clientReport struct {
	tool    string
	stratum int
	offset  float64 // seconds
	leap    string
	// bound is the error the tool itself puts on its offset (ntpdate's
	// "+/- ERR": half its delay plus the server's dispersion), 0 where
	// it gives none. A tool descheduled between its own timestamps on a
	// busy machine measures a longer delay and says so here.
	bound float64
}

var (
	ntpdateLine = regexp.MustCompile(`([+-]?\d+\.\d+) \+/- (\d+\.\d+) (\S+) s(\d+) (\S+)`)
	chronyQLine = regexp.MustCompile(`System clock wrong by ([+-]?\d+\.\d+) seconds`)
	queryLine   = regexp.MustCompile(`stratum (\d+), refid (\S+), leap (\S+), version (\d), offset ([+-]\d+\.\d+) s`)
)

func ntpdateQ(t *testing.T, ns *netns, addr string) clientReport {
	t.Helper()
	out, err := ns.output(20*time.Second, "ntpdate", "-q", addr)
	m := ntpdateLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("ntpdate -q %s: %v\n%s", addr, err, out)
	}
	off, _ := strconv.ParseFloat(m[1], 64)
	bound, _ := strconv.ParseFloat(m[2], 64)
	st, _ := strconv.Atoi(m[4])
	return clientReport{"ntpdate", st, off, m[5], bound}
}

func ntpdigJ(t *testing.T, ns *netns, addr string) clientReport {
	t.Helper()
	out, err := ns.output(20*time.Second, "ntpdig", "-j", addr)
	var r struct {
		Offset  float64 `json:"offset"`
		Stratum int     `json:"stratum"`
		Leap    string  `json:"leap"`
	}
	if err != nil || json.Unmarshal([]byte(strings.TrimSpace(out)), &r) != nil {
		t.Fatalf("ntpdig -j %s: %v\n%s", addr, err, out)
	}
	return clientReport{"ntpdig", r.Stratum, r.Offset, r.Leap, 0}
}

// chronydQ is chronyd's one-shot measurement, without the right to set
// the clock. It reports the offset only.
func chronydQ(t *testing.T, ns *netns, addr string) float64 {
	t.Helper()
	out, err := ns.output(30*time.Second, "setpriv", "--bounding-set", "-sys_time", "--",
		"chronyd", "-Q", "-t", "10", "-f", "/dev/null", fmt.Sprintf("server %s iburst maxsamples 4", addr))
	m := chronyQLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("chronyd -Q %s: %v\n%s", addr, err, out)
	}
	off, _ := strconv.ParseFloat(m[1], 64)
	return off
}

func ntpboxQuery(t *testing.T, ns *netns, addr string) (r clientReport, refid string) {
	t.Helper()
	out, err := ns.output(10*time.Second, ntpboxBin, "query", addr)
	m := queryLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("ntpbox query %s: %v\n%s", addr, err, out)
	}
	st, _ := strconv.Atoi(m[1])
	off, _ := strconv.ParseFloat(m[5], 64)
	return clientReport{"ntpbox query", st, off, m[3], 0}, m[2]
}

func TestRealClientsAcceptNtpbox(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "chronyc", "ntpdate", "ntpdig")
	ns := newNetns(t)
	startNtpbox(t, ns, "local stratum 3\nallow all\nbindaddress 127.0.0.1\n", "127.0.0.1")

	for _, r := range []clientReport{ntpdateQ(t, ns, "127.0.0.1"), ntpdigJ(t, ns, "127.0.0.1")} {
		t.Logf("%s: stratum %d offset %+.6f +/- %.6f leap %s", r.tool, r.stratum, r.offset, r.bound, r.leap)
		// The served clock is this machine's (-x), so the offset is the
		// tool's measuring error: at most saneOffset beyond the error
		// the tool itself claims (CI once saw ntpdate -0.010720 s while
		// ntpdig, a second later, read -0.000023 s).
		if r.stratum != 3 || math.Abs(r.offset) > saneOffset+r.bound || r.leap != "no-leap" {
			t.Errorf("%s reports stratum %d offset %v +/- %v leap %s; want 3, |offset| < %v + its own error, no-leap", r.tool, r.stratum, r.offset, r.bound, r.leap, saneOffset)
		}
	}
	if off := chronydQ(t, ns, "127.0.0.1"); math.Abs(off) > saneOffset {
		t.Errorf("chronyd -Q: offset %v", off)
	} else {
		t.Logf("chronyd -Q: offset %+.6f", off)
	}

	// chronyd as a full client (no clock control) selects ntpbox as its
	// source and reports its stratum.
	sock := startChronydClient(t, ns, "server 127.0.0.1 iburst minpoll 0 maxpoll 0")
	var sources string
	waitFor(t, "chronyd to select ntpbox (^*)", 30*time.Second, func() bool {
		sources, _ = ns.output(5*time.Second, "chronyc", "-h", sock, "-n", "sources")
		return strings.Contains(sources, "^* 127.0.0.1")
	})
	t.Logf("chronyc sources:\n%s", sources)
	f := strings.Fields(sources[strings.Index(sources, "^* 127.0.0.1"):])
	if f[2] != "3" {
		t.Errorf("chronyc reports stratum %s for ntpbox, want 3", f[2])
	}
}

func TestQueryAgreesWithRealClientsOnChronyd(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "ntpdate", "ntpdig")
	ns := newNetns(t)
	startChronydServer(t, ns, "127.0.0.2")
	var ours clientReport
	var refid string
	waitFor(t, "chronyd to answer", 15*time.Second, func() bool {
		out, err := ns.output(5*time.Second, ntpboxBin, "query", "-t", "500ms", "127.0.0.2")
		return err == nil && strings.Contains(out, "stratum 2")
	})
	ours, refid = ntpboxQuery(t, ns, "127.0.0.2")
	if refid != "127.127.1.1" {
		t.Errorf("ntpbox query: refid %s, want chronyd's local reference 127.127.1.1", refid)
	}
	// Each tool takes one sample of the same clock over loopback; on a
	// busy 2-core machine one of them can be descheduled between its
	// timestamps (CI once saw ntpdate 2.3 ms off). So the pair is
	// measured up to three times, and must agree once; every try is
	// logged.
	for _, tool := range []func(*testing.T, *netns, string) clientReport{ntpdateQ, ntpdigJ} {
		agreed := false
		for try := 1; try <= 3 && !agreed; try++ {
			if try > 1 {
				ours, _ = ntpboxQuery(t, ns, "127.0.0.2")
			}
			r := tool(t, ns, "127.0.0.2")
			t.Logf("try %d: %s: stratum %d offset %+.6f leap %s; ntpbox query: stratum %d offset %+.6f leap %s",
				try, r.tool, r.stratum, r.offset, r.leap, ours.stratum, ours.offset, ours.leap)
			agreed = r.stratum == ours.stratum && math.Abs(r.offset-ours.offset) <= 0.002
			if !agreed && try == 3 {
				t.Errorf("%s and ntpbox query disagree 3 times: stratum %d vs %d, offset %+.6f vs %+.6f", r.tool, r.stratum, ours.stratum, r.offset, ours.offset)
			}
		}
	}
	if ours.stratum != 2 || ours.leap != "none" {
		t.Errorf("ntpbox query: stratum %d leap %s, want 2 none", ours.stratum, ours.leap)
	}
}

// chronyd with `xleave` gets interleaved replies from ntpbox, as from
// chronyd: `chronyc ntpdata` says so, and its offsets stay sane.
func TestChronydInterleaved(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "chronyc")
	ns := newNetns(t)
	startNtpbox(t, ns, "local stratum 3\nallow all\nbindaddress 127.0.0.1\n", "127.0.0.1")
	sock := startChronydClient(t, ns, "server 127.0.0.1 iburst minpoll 0 maxpoll 0 xleave")
	var data string
	waitFor(t, "chronyd's interleaved exchanges with ntpbox", 30*time.Second, func() bool {
		data, _ = ns.output(5*time.Second, "chronyc", "-h", sock, "-n", "ntpdata", "127.0.0.1")
		return regexp.MustCompile(`Interleaved\s*:\s*Yes`).MatchString(data) &&
			regexp.MustCompile(`Total valid RX\s*:\s*([5-9]|\d\d+)\b`).MatchString(data)
	})
	t.Logf("chronyc ntpdata:\n%s", data)
	m := regexp.MustCompile(`Offset\s*:\s*([+-]?[0-9.e+-]+) seconds`).FindStringSubmatch(data)
	if m == nil {
		t.Fatalf("no offset in chronyc ntpdata")
	}
	if off, _ := strconv.ParseFloat(m[1], 64); math.Abs(off) > saneOffset {
		t.Errorf("offset %v s in interleaved mode", off)
	}
}

// startChronydClient runs chronyd -x in ns as a client with the given
// server line, and returns its command socket for chronyc -h.
func startChronydClient(t *testing.T, ns *netns, server string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // chronyd refuses a command socket in a directory others can read
	conf := writeFile(t, dir, "client.conf", fmt.Sprintf(`%[2]s
port 0
cmdport 0
bindcmdaddress %[1]s/chronyd.sock
pidfile %[1]s/chronyd.pid
`, dir, server))
	ns.start("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
	return dir + "/chronyd.sock"
}

// ntpbox with `xleave` polls a real chronyd in interleaved mode:
// chronyd counts the interleaved requests it answered, ntpbox's ntpdata
// says Interleaved: Yes, the interleaved replies keep giving samples
// (Total good RX grows to 8 at one poll a second), the source is
// selected, and the offset stays sane (one host clock on both ends).
func TestXleaveToChronyd(t *testing.T) {
	requireTools(t, "ip", "setpriv", "chronyd", "chronyc")
	ns := newNetns(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // chronyd refuses a command socket in a directory others can read
	conf := writeFile(t, dir, "chrony.conf", fmt.Sprintf(`bindaddress 127.0.0.11
allow all
local stratum 2
cmdport 0
bindcmdaddress %[1]s/chronyd.sock
pidfile %[1]s/chronyd.pid
`, dir))
	ns.start("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
	sock := dir + "/ntpbox.sock"
	f := writeFile(t, dir, "ntpbox.conf", fmt.Sprintf("server 127.0.0.11 iburst minpoll 0 maxpoll 0 xleave\nallow all\nbindaddress 127.0.0.1\nbindcmdaddress %s\n", sock))
	ns.start(ntpboxBin, "serve", "-x", "-f", f)
	waitInterleaved(t, ns, sock, "ntpbox following chronyd")
	stats, err := ns.output(5*time.Second, "chronyc", "-h", dir+"/chronyd.sock", "serverstats")
	t.Logf("chronyd's serverstats:\n%s", stats)
	if m := regexp.MustCompile(`Interleaved NTP packets\s*:\s*(\d+)`).FindStringSubmatch(stats); err != nil || m == nil || m[1] == "0" {
		t.Errorf("chronyd answered no interleaved request: %v", err)
	}
	if out := ntpboxStatus(t, ns, sock, "sources"); !strings.Contains(out, "^* 127.0.0.11") {
		t.Errorf("the interleaved source is not selected:\n%s", out)
	}

	// A second box polls the first one in interleaved mode: ntpbox's
	// server side answers ntpbox's client side.
	sock2 := dir + "/ntpbox2.sock"
	f2 := writeFile(t, dir, "ntpbox2.conf", fmt.Sprintf("server 127.0.0.1 iburst minpoll 0 maxpoll 0 xleave\nallow all\nbindaddress 127.0.0.2\nbindcmdaddress %s\n", sock2))
	ns.start(ntpboxBin, "serve", "-x", "-f", f2)
	waitInterleaved(t, ns, sock2, "the second box following the first")
	st := ntpboxStatus(t, ns, sock, "serverstats")
	if n, err := strconv.Atoi(labelled(st, "Interleaved NTP packets")); err != nil || n == 0 {
		t.Errorf("the first box answered no interleaved request:\n%s", st)
	}
}

// waitInterleaved waits until the box with control socket sock has 8
// good samples and its last reply was interleaved (ntpbox ntpdata), and
// checks the offset of that reply: both ends read this host's clock.
func waitInterleaved(t *testing.T, ns *netns, sock, what string) {
	t.Helper()
	goodRx := regexp.MustCompile(`Total good RX\s*:\s*(\d+)`)
	var data string
	waitFor(t, what+": interleaved exchanges", 40*time.Second, func() bool {
		out, err := ns.output(5*time.Second, ntpboxBin, "ntpdata", "-s", sock)
		data = out
		n := 0
		if m := goodRx.FindStringSubmatch(out); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		return err == nil && regexp.MustCompile(`Interleaved\s*:\s*Yes`).MatchString(out) && n >= 8
	})
	t.Logf("%s: ntpbox ntpdata:\n%s", what, data)
	m := regexp.MustCompile(`Offset\s*:\s*([+-]?[0-9.e+-]+) seconds`).FindStringSubmatch(data)
	if m == nil {
		t.Fatalf("%s: no offset in ntpbox ntpdata", what)
	}
	if off, _ := strconv.ParseFloat(m[1], 64); math.Abs(off) > saneOffset {
		t.Errorf("%s: offset %v s in interleaved mode", what, off)
	}
}
