package cmdmon

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// serve runs a command port for p on 127.0.0.1 until the test ends and
// returns a client of it.
func serve(t *testing.T, p Provider) *Client {
	t.Helper()
	conns, warns := Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")})
	if len(conns) != 1 {
		t.Fatalf("listen: %v", warns)
	}
	s := NewServer(p, nil, nil)
	done := make(chan error)
	go func() { done <- s.Serve(conns[0]) }()
	t.Cleanup(func() {
		conns[0].Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c, err := Dial(context.Background(), "udp", conns[0].LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Every report read over the command port prints as the daemon's own
// report prints: `ntpbox -h BOX CMD` shows what `ntpbox CMD` shows on
// the box.
func TestClientPrintsAsLocal(t *testing.T) {
	p := fakeProvider{}
	c := serve(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resolved []upstream.SourceReport
	for _, s := range p.Sources() {
		if s.Addr.IsValid() {
			resolved = append(resolved, s)
		}
	}
	same := func(what string, format func(w *bytes.Buffer, remote bool) error) {
		t.Helper()
		var local, remote bytes.Buffer
		if err := format(&local, false); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := format(&remote, true); err != nil {
			t.Fatalf("%s over the command port: %v", what, err)
		}
		if local.String() != remote.String() {
			t.Errorf("%s over the command port:\n%s\nlocally:\n%s", what, remote.String(), local.String())
		}
		if local.Len() == 0 {
			t.Errorf("%s: no output", what)
		}
	}
	same("tracking", func(w *bytes.Buffer, remote bool) error {
		tr := p.Tracking()
		if remote {
			var err error
			if tr, err = c.Tracking(ctx); err != nil {
				return err
			}
		}
		return control.FormatTracking(w, tr)
	})
	for _, verbose := range []bool{false, true} {
		same("sources", func(w *bytes.Buffer, remote bool) error {
			srcs := resolved
			if remote {
				var err error
				if srcs, err = c.Sources(ctx, false); err != nil {
					return err
				}
			}
			return control.FormatSources(w, srcs, verbose)
		})
		same("sourcestats", func(w *bytes.Buffer, remote bool) error {
			srcs := resolved
			if remote {
				var err error
				if srcs, err = c.Sources(ctx, true); err != nil {
					return err
				}
			}
			return control.FormatSourceStats(w, srcs, verbose)
		})
	}
	same("activity", func(w *bytes.Buffer, remote bool) error {
		a := control.Activity(p.Sources(), p.Unresolved())
		if remote {
			var err error
			if a, err = c.Activity(ctx); err != nil {
				return err
			}
		}
		return control.FormatActivity(w, a)
	})
	same("clients", func(w *bytes.Buffer, remote bool) error {
		cl := p.Clients()
		if remote {
			var err error
			if cl, err = c.Clients(ctx); err != nil {
				return err
			}
		}
		return control.FormatClients(w, cl)
	})
	for _, addr := range []netip.Addr{{}, netip.MustParseAddr("192.0.2.1")} {
		same("ntpdata "+addr.String(), func(w *bytes.Buffer, remote bool) error {
			nd := control.NTPDataReports(p.Sources())
			if remote {
				var err error
				if nd, err = c.NTPData(ctx, addr); err != nil {
					return err
				}
			}
			return control.FormatNTPData(w, nd, addr.IsValid())
		})
	}
	// serverstats counts the command port's own requests: read it
	// twice, and compare all but that line.
	st, err := c.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := p.ServerStats()
	if st.CmdHits <= want.CmdHits {
		t.Errorf("command packets %d, want more than the provider's %d", st.CmdHits, want.CmdHits)
	}
	st.CmdHits = want.CmdHits
	if st != want {
		t.Errorf("serverstats %+v, want %+v", st, want)
	}
	if _, err := c.NTPData(ctx, netip.MustParseAddr("192.0.2.99")); !strings.Contains(fmtErr(err), "503 No such source") {
		t.Errorf("ntpdata of an unknown source: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// fakeDaemon answers each request on a socket with answer's bytes (nil:
// no answer) and records the requests.
func fakeDaemon(t *testing.T, answer func(req []byte) []byte) (*Client, chan []byte) {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make(chan []byte, 16)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			reqs <- req
			if r := answer(req); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	c, err := Dial(context.Background(), "udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, reqs
}

// replyTo builds a reply header for req with status and reply type,
// followed by data.
func replyTo(req []byte, status, rpy uint16, data []byte) []byte {
	b := make([]byte, replyHeaderLen, replyHeaderLen+len(data))
	b[0], b[1] = protoVersion, pktTypeReply
	copy(b[4:6], req[4:6])
	binary.BigEndian.PutUint16(b[6:], rpy)
	binary.BigEndian.PutUint16(b[8:], status)
	copy(b[16:20], req[8:12])
	return append(b, data...)
}

// A daemon that does not answer gets the request three times, attempts
// 0, 1 and 2 with new sequence numbers, padded as chronyd wants, and
// then chronyc's 506.
func TestClientRetriesThenGivesUp(t *testing.T) {
	c, reqs := fakeDaemon(t, func([]byte) []byte { return nil })
	c.Timeout = 50 * time.Millisecond
	start := time.Now()
	_, err := c.Tracking(context.Background())
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), "506 Cannot talk to daemon") {
		t.Fatalf("err %v, want ErrNoReply", err)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("gave up after %v, want 50+100+200 ms of waiting", d)
	}
	seqs := map[uint32]bool{}
	for i := range 3 {
		r := <-reqs
		if len(r) != RequestLen(reqTracking) || r[0] != 6 || r[1] != pktTypeRequest {
			t.Errorf("request %d: % x, want a version 6 request of %d bytes", i, r, RequestLen(reqTracking))
		}
		if a := binary.BigEndian.Uint16(r[6:]); a != uint16(i) {
			t.Errorf("request %d says attempt %d", i, a)
		}
		seqs[binary.BigEndian.Uint32(r[8:])] = true
		if !bytes.Equal(r[requestHeaderLen:], make([]byte, len(r)-requestHeaderLen)) {
			t.Errorf("padding not zero: % x", r[requestHeaderLen:])
		}
	}
	if len(seqs) != 3 {
		t.Errorf("%d sequence numbers in 3 attempts, want a new one each", len(seqs))
	}
	select {
	case r := <-reqs:
		t.Errorf("a fourth request: % x", r)
	default:
	}
}

// Replies that are not to the request (another sequence, another
// command, a request, another version) are ignored; the right one is
// taken; a status is an error with chronyc's text and what it means.
func TestClientChecksReplies(t *testing.T) {
	tracking := make([]byte, 76)
	for _, tc := range []struct {
		name   string
		answer func(req []byte) [][]byte
		want   string // in the error; "" for success
	}{
		{"good", func(req []byte) [][]byte { return [][]byte{replyTo(req, 0, rpyTracking, tracking)} }, ""},
		{"wrong sequence, then good", func(req []byte) [][]byte {
			bad := replyTo(req, 0, rpyTracking, tracking)
			bad[16]++
			return [][]byte{bad, replyTo(req, 0, rpyTracking, tracking)}
		}, ""},
		{"wrong command, version 4, a request", func(req []byte) [][]byte {
			a := replyTo(req, 0, rpyTracking, tracking)
			a[5]++
			b := replyTo(req, 0, rpyTracking, tracking)
			b[0] = 4
			d := replyTo(req, 0, rpyTracking, tracking)
			d[1] = pktTypeRequest
			return [][]byte{a, b, d}
		}, "506 Cannot talk to daemon"},
		{"short data", func(req []byte) [][]byte { return [][]byte{replyTo(req, 0, rpyTracking, tracking[:40])} }, "508 Bad reply"},
		{"not authorised", func(req []byte) [][]byte { return [][]byte{replyTo(req, sttUnauth, rpyNull, nil)} },
			"501 Not authorised: the box refuses this command from the network"},
		{"version 5 says mismatch", func(req []byte) [][]byte {
			r := replyTo(req, sttBadPktVersion, rpyNull, nil)
			r[0] = 5
			return [][]byte{r}
		}, "517 Protocol version mismatch"},
		{"unknown status", func(req []byte) [][]byte { return [][]byte{replyTo(req, 99, rpyNull, nil)} }, "520 Got unexpected error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, 2048)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					for _, r := range tc.answer(buf[:n]) {
						pc.WriteTo(r, from)
					}
				}
			}()
			c, err := Dial(context.Background(), "udp4", pc.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Timeout, c.Retries = 50*time.Millisecond, 1
			_, err = c.Tracking(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err %v, want none", err)
			case tc.want != "" && !strings.Contains(fmtErr(err), tc.want):
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// A chronyd's client record with command-port use decodes into the
// columns chronyc prints: IntL and the Cmd columns included.
func TestDecodeClientsOfChronyd(t *testing.T) {
	d := make([]byte, 492)
	binary.BigEndian.PutUint32(d[0:], 1) // n_indices
	binary.BigEndian.PutUint32(d[4:], 1) // next_index
	binary.BigEndian.PutUint32(d[8:], 1) // n_clients
	e := d[12:]
	putIPAddr(e, netip.MustParseAddr("192.0.2.7"))
	binary.BigEndian.PutUint32(e[20:], 1234) // ntp_hits
	binary.BigEndian.PutUint32(e[28:], 5)    // cmd_hits
	binary.BigEndian.PutUint32(e[32:], 2)    // ntp_drops
	binary.BigEndian.PutUint32(e[40:], 1)    // cmd_drops
	e[44], e[45], e[46], e[47] = 6, 127, 3, 4
	binary.BigEndian.PutUint32(e[48:], 23) // last_ntp_hit_ago
	binary.BigEndian.PutUint32(e[52:], ^uint32(0))
	binary.BigEndian.PutUint32(e[56:], 10) // last_cmd_hit_ago
	cl, n, nIndices, next := DecodeClients(d)
	if n != 1 || nIndices != 1 || next != 1 || len(cl) != 1 {
		t.Fatalf("%d clients (n %d, indices %d, next %d)", len(cl), n, nIndices, next)
	}
	var b bytes.Buffer
	if err := control.FormatClients(&b, cl); err != nil {
		t.Fatal(err)
	}
	want := "192.0.2.7                    1234      2   6   4    23       5      1   3    10\n"
	if _, row, _ := strings.Cut(b.String(), "=\n"); row != want {
		t.Errorf("row %q\nwant %q", row, want)
	}
}
