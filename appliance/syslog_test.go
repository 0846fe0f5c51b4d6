package appliance

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP
// PROCID SP MSGID SP STRUCTURED-DATA SP MSG.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (-|\[.*\]) (.*)$`)

func TestSyslogMessage(t *testing.T) {
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		line, pri, ts, proc string
	}{
		{`time=2026-12-04T13:16:32.178Z level=INFO msg="stopping service" component=init service=dhcp pid=96`, "30", "2026-12-04T13:16:32.178000Z", "init"},
		{`time=2026-12-04T13:16:32.187Z level=WARN msg=x service=ntp`, "28", "2026-12-04T13:16:32.187000Z", "ntp"},
		{`time=2026-12-04T13:16:32Z level=ERROR msg=y`, "27", "2026-12-04T13:16:32.000000Z", "-"},
		{`ntpbox: serving (run 1, pid 95, udp port 123)`, "29", "2026-12-04T14:00:00.000000Z", "-"},
		{`time=bad level=DEBUG msg=z component=dns`, "31", "2026-12-04T14:00:00.000000Z", "dns"},
	} {
		m := rfc5424.FindStringSubmatch(string(syslogMessage([]byte(tc.line+"\n"), "ntpbox-123456", now)))
		if m == nil || m[1] != tc.pri || m[2] != tc.ts || m[3] != "ntpbox-123456" || m[4] != "ntpbox" || m[5] != tc.proc || m[8] != tc.line {
			t.Errorf("%q: %q", tc.line, syslogMessage([]byte(tc.line), "ntpbox-123456", now))
		}
	}
	long := strings.Repeat("x", 5000)
	if b := syslogMessage([]byte(long), "", now); len(b) != syslogMax || !strings.Contains(string(b), " - ntpbox - - - xxx") {
		t.Errorf("a 5000-byte line: %d bytes, %q...", len(b), b[:60])
	}
	if b := syslogMessage([]byte("x"), "", now); strings.Contains(string(b), "\ufeff") {
		t.Error("a BOM in the message")
	}
}

func TestSyslogTarget(t *testing.T) {
	lease := &config.Lease{Log: []netip.Addr{netip.MustParseAddr("198.18.0.7")}}
	for _, tc := range []struct {
		server string
		lease  *config.Lease
		want   string
	}{
		{"", lease, ""},
		{"198.18.0.1:514", nil, "198.18.0.1:514"},
		{"auto", lease, "198.18.0.7:514"},
		{"auto", nil, ""},
		{"auto", &config.Lease{}, ""},
	} {
		if got := syslogTarget(&config.Config{LogServer: tc.server, Lease: tc.lease}); got != tc.want {
			t.Errorf("%q with lease %v: %q, want %q", tc.server, tc.lease, got, tc.want)
		}
	}
}

// The sender gives a UDP log server the lines the ring held before it
// started (the boot), then each new line; a new target gets them too.
func TestSyslogSenderSendsBootAndNewLines(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	recv := func(c *net.UDPConn, n int) []string {
		var got []string
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for len(got) < n {
			k, _, err := c.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("after %d messages: %v", len(got), err)
			}
			got = append(got, string(buf[:k]))
		}
		return got
	}
	r := &Ring{}
	r.Write([]byte("time=2026-12-04T13:00:00Z level=INFO msg=\"ntpbox init starting\" component=init\n"))
	var logBuf syncBuffer
	s := &syslogSender{ring: r, log: newSlog(&logBuf), host: func() string { return "ntpbox-abcdef" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := listen()
	s.follow(ctx, a.LocalAddr().String())
	got := recv(a, 1)
	if !strings.HasPrefix(got[0], "<30>1 2026-12-04T13:00:00.000000Z ntpbox-abcdef ntpbox init - - time=") {
		t.Errorf("the boot line: %q", got[0])
	}
	r.Write([]byte("time=2026-12-04T13:00:05Z level=WARN msg=\"source unreachable\" service=ntp\n"))
	got = recv(a, 1)
	if !strings.HasPrefix(got[0], "<28>1 2026-12-04T13:00:05.000000Z ntpbox-abcdef ntpbox ntp - - ") {
		t.Errorf("a new line: %q", got[0])
	}
	b := listen()
	s.follow(ctx, b.LocalAddr().String())
	if got := recv(b, 2); !strings.Contains(got[0], "ntpbox init starting") || !strings.Contains(got[1], "source unreachable") {
		t.Errorf("the new target's first message: %q", got[0])
	}
	s.follow(ctx, "")
	if !strings.Contains(logBuf.String(), `msg="sending the log"`) {
		t.Errorf("init's log: %s", logBuf.String())
	}
}
