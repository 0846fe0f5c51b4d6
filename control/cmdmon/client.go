package cmdmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// This file is the client side of the protocol, what `chronyc -h HOST`
// does and `ntpbox -h HOST` uses: requests padded as chrony pads them,
// retries with a doubling timeout, replies checked against the request
// (version, type, command, sequence, length) and chronyd's status codes
// turned into errors that say what happened.

// Client talks to one chronyd, or one box's command port, over UDP.
// It is not safe for concurrent use.
type Client struct {
	conn net.Conn
	addr string
	// Timeout is how long the first attempt waits for a reply; each
	// retry waits twice as long as the one before (chronyc: 1 s).
	Timeout time.Duration
	// Retries is how many times a request is sent again after a
	// timeout (chronyc: 2).
	Retries int
}

// Dial returns a client of the command port at address ("host:port";
// network "udp", "udp4" or "udp6").
func Dial(ctx context.Context, network, address string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("command port %s: %w", address, err)
	}
	return &Client{conn: conn, addr: conn.RemoteAddr().String(), Timeout: time.Second, Retries: 2}, nil
}

// NewClient returns a client on conn, a connected packet socket (tests).
func NewClient(conn net.Conn) *Client {
	return &Client{conn: conn, addr: conn.RemoteAddr().String(), Timeout: time.Second, Retries: 2}
}

// Close closes the socket.
func (c *Client) Close() error { return c.conn.Close() }

// StatusError is a reply with a status other than success: chronyd's
// code, with chronyc's text ("501 Not authorised") and what it means.
type StatusError struct {
	Addr    string
	Command string // chronyc's name for the request
	Status  uint16
}

func (e *StatusError) Error() string {
	text, hint := statusText(e.Status)
	if hint != "" {
		return fmt.Sprintf("%s %s: %s: %s", e.Addr, e.Command, text, hint)
	}
	return fmt.Sprintf("%s %s: %s", e.Addr, e.Command, text)
}

// statusText is chronyc's message for a status, and what it means here.
func statusText(s uint16) (text, hint string) {
	switch s {
	case sttFailed:
		return "500 Failure", ""
	case sttUnauth:
		return "501 Not authorised", "the box refuses this command from the network; run it on the box itself (chronyd also keeps serverstats, clients and ntpdata to its local socket)"
	case sttInvalid:
		return "502 Invalid command", "the daemon does not know this command"
	case sttNoSuchSource:
		return "503 No such source", ""
	case sttNotEnabled:
		return "505 Facility not enabled in daemon", ""
	case sttNoRTC:
		return "513 RTC driver not running", ""
	case sttInactive:
		return "519 Client logging is not active in the daemon", "it runs with noclientlog"
	case sttInvalidAF:
		return "515 Invalid address family", ""
	case sttBadSample:
		return "516 Sample index out of range", ""
	case sttBadPktVersion:
		return "517 Protocol version mismatch", "the daemon speaks another version of chrony's command protocol (this is version 6, chrony 4.x)"
	case sttBadPktLength:
		return "518 Packet length mismatch", ""
	case sttInvalidName:
		return "521 Invalid name", ""
	}
	return fmt.Sprintf("520 Got unexpected error from daemon (status %d)", s), ""
}

// ErrNoReply is wrapped by the error of a request that got no valid
// reply after all its retries (chronyc's "506 Cannot talk to daemon").
var ErrNoReply = errors.New("506 Cannot talk to daemon")

// exchange sends a request of type cmd with data (padded to chrony's
// length) and returns the reply's data, at least wantLen bytes of reply
// type want.
func (c *Client) exchange(ctx context.Context, cmd uint16, data []byte, want uint16, wantLen int) ([]byte, error) {
	req := make([]byte, RequestLen(int(cmd)))
	if len(req) == 0 || requestHeaderLen+len(data) > len(req) {
		return nil, fmt.Errorf("cmdmon: cannot encode request %d", cmd)
	}
	req[0], req[1] = protoVersion, pktTypeRequest
	binary.BigEndian.PutUint16(req[4:], cmd)
	copy(req[requestHeaderLen:], data)
	buf := make([]byte, MaxReplyLen+1)
	name := commandName(cmd)
	timeout := c.Timeout
	for attempt := 0; attempt <= c.Retries; attempt++ {
		binary.BigEndian.PutUint16(req[6:], uint16(attempt))
		seq := rand.Uint32()
		binary.BigEndian.PutUint32(req[8:], seq)
		if _, err := c.conn.Write(req); err != nil {
			return nil, fmt.Errorf("%s %s: send: %w", c.addr, name, err)
		}
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		c.conn.SetReadDeadline(deadline)
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("%s %s: %w", c.addr, name, ctx.Err())
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // send again
				}
				// ECONNREFUSED: nothing listens there (an ICMP
				// port unreachable); chronyc retries too.
				if attempt == c.Retries {
					return nil, fmt.Errorf("%s %s: %w (%w)", c.addr, name, ErrNoReply, err)
				}
				time.Sleep(min(timeout, time.Until(deadline)))
				break
			}
			status, rpy, d, ok := ParseReply(buf[:n], cmd, seq)
			if !ok {
				continue // not the reply to this attempt
			}
			if status != sttSuccess {
				return nil, &StatusError{Addr: c.addr, Command: name, Status: status}
			}
			if rpy != want || len(d) < wantLen {
				return nil, fmt.Errorf("%s %s: 508 Bad reply from daemon (reply type %d of %d bytes, want %d of %d)", c.addr, name, rpy, len(d), want, wantLen)
			}
			return d, nil
		}
		timeout *= 2
	}
	return nil, fmt.Errorf("%s %s: %w: no reply to %d requests (is the command port open, and this host let in by cmdallow?)", c.addr, name, ErrNoReply, c.Retries+1)
}

// ParseReply checks b as chronyc checks a reply to the request of type
// cmd with sequence number seq: long enough for the header, version 6
// (or an older one that says the versions differ), a reply, reserved
// bytes zero, the same command and sequence. ok is false for anything
// else, which chronyc ignores. data is what follows the header.
func ParseReply(b []byte, cmd uint16, seq uint32) (status, rpy uint16, data []byte, ok bool) {
	if len(b) < replyHeaderLen || b[1] != pktTypeReply || b[2] != 0 || b[3] != 0 {
		return 0, 0, nil, false
	}
	status = binary.BigEndian.Uint16(b[8:])
	if b[0] != protoVersion && !(b[0] >= protoVersionMismatchCompat && status == sttBadPktVersion) {
		return 0, 0, nil, false
	}
	if binary.BigEndian.Uint16(b[4:]) != cmd || binary.BigEndian.Uint32(b[16:]) != seq {
		return 0, 0, nil, false
	}
	return status, binary.BigEndian.Uint16(b[6:]), b[replyHeaderLen:], true
}

// commandName is chronyc's name for a request, for errors.
func commandName(cmd uint16) string {
	switch cmd {
	case reqNSources, reqSourceData:
		return "sources"
	case reqSourceStats:
		return "sourcestats"
	case reqTracking:
		return "tracking"
	case reqActivity:
		return "activity"
	case reqServerStats:
		return "serverstats"
	case reqNTPData:
		return "ntpdata"
	case reqNTPSourceName:
		return "sourcename"
	case reqClientAccessesByIndex3:
		return "clients"
	case reqMakeStep:
		return "makestep"
	case reqBurst:
		return "burst"
	}
	return fmt.Sprintf("request %d", cmd)
}
