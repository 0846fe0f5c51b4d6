package appliance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/backoff"
)

// Logs off the box (issue 12): with `logserver HOST[:PORT]`, or
// `logserver auto` and a lease that names a log server (option 7), init
// sends every line of its ring (its own log and the services' output) as
// RFC 5424 syslog over UDP (RFC 5426): first the lines the ring still
// holds, from the boot on, then each new one. Facility daemon; the
// severity from the line's level=; the line's own time; the box's host
// name; APP-NAME ntpbox, PROCID the component (init, ntp, dhcp, dns...)
// when the line names one. A message is at most syslogMax bytes. Sending
// never blocks the box: a line that cannot go is dropped and counted.

const (
	syslogMax        = 2048 // bytes of a message (RFC 5426 §3.2: receivers take 2048)
	syslogFacility   = 3    // daemon
	syslogRetry      = 30 * time.Second
	syslogBurstLines = 100 // lines sent before a pause of syslogBurstPause, when replaying
	syslogBurstPause = 5 * time.Millisecond
)

var (
	slogTime  = regexp.MustCompile(`^time=(\S+)`)
	slogLevel = regexp.MustCompile(` level=(\w+)`)
	slogComp  = regexp.MustCompile(` (?:component|service)=([A-Za-z0-9_.-]+)`)
)

// syslogMessage formats one ring line as an RFC 5424 message from host,
// with now for lines that carry no time.
func syslogMessage(line []byte, host string, now time.Time) []byte {
	line = bytes.TrimRight(line, "\r\n")
	sev := 5 // notice: the sentinels and banners
	if m := slogLevel.FindSubmatch(line); m != nil {
		switch string(m[1]) {
		case "DEBUG":
			sev = 7
		case "INFO":
			sev = 6
		case "WARN":
			sev = 4
		case "ERROR":
			sev = 3
		}
	}
	ts := now.UTC()
	if m := slogTime.FindSubmatch(line); m != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil {
			ts = t.UTC()
		}
	}
	proc := "-"
	if m := slogComp.FindSubmatch(line); m != nil && len(m[1]) <= 128 {
		proc = string(m[1])
	}
	if host == "" {
		host = "-"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s ntpbox %s - - ", syslogFacility*8+sev, ts.Format("2006-01-02T15:04:05.000000Z"), host, proc)
	msg := line
	if room := syslogMax - b.Len(); len(msg) > room {
		msg = msg[:room]
	}
	b.Write(msg)
	return b.Bytes()
}

// syslogTarget is where the log goes for cfg: `logserver`, or with
// `logserver auto` the lease's first log server; "" for nowhere.
func syslogTarget(cfg *config.Config) string {
	switch cfg.LogServer {
	case "":
		return ""
	case "auto":
		if cfg.Lease != nil && len(cfg.Lease.Log) > 0 {
			return net.JoinHostPort(cfg.Lease.Log[0].String(), strconv.Itoa(config.DefaultLogPort))
		}
		return ""
	}
	return cfg.LogServer
}

// syslogSender follows the ring to one log server until stopped.
type syslogSender struct {
	mu      sync.Mutex
	target  string
	host    func() string
	cancel  context.CancelFunc
	done    chan struct{}
	ring    *Ring
	log     *slog.Logger
	dropped int
}

// follow sends the log to target ("" stops sending), starting over when
// the target changes.
func (s *syslogSender) follow(ctx context.Context, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == s.target {
		return
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
	s.target = target
	if target == "" || s.ring == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx, target, s.done)
}

func (s *syslogSender) run(ctx context.Context, target string, done chan struct{}) {
	defer close(done)
	// At boot the network may not be up yet (no route): try again after
	// 1 s, doubling to syslogRetry.
	var conn net.Conn
	pause := backoff.Backoff{Min: time.Second, Max: syslogRetry}
	for {
		var err error
		if conn, err = net.Dial("udp", target); err == nil {
			break
		}
		d := pause.Next()
		s.log.Info("log server: cannot send there yet", "target", target, "err", err, "retry_in", d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	defer conn.Close()
	s.log.Info("sending the log", "target", target, "protocol", "RFC 5424 syslog over UDP")
	var seq uint64
	sent, failed := 0, 0
	for {
		b, next, changed := s.ring.since(seq)
		seq = next
		for len(b) > 0 {
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i+1], b[i+1:]
			} else {
				b = nil
			}
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write(syslogMessage(line, s.host(), time.Now())); err != nil {
				failed++ // ICMP unreachable or a full queue: the line is lost, the box goes on
			}
			if sent++; sent%syslogBurstLines == 0 {
				time.Sleep(syslogBurstPause)
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if failed > 0 {
				s.log.Warn("log server: lines not sent", "target", target, "count", failed)
			}
			return
		}
	}
}
