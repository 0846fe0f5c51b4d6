package box

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/control/cmdmon"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// freePort returns a UDP port nobody uses on 127.0.0.1 now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func ask(port int) (*ntpserver.QueryResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var d net.Dialer
	return ntpserver.Query(ctx, d.DialContext, fmt.Sprintf("127.0.0.1:%d", port), 4, time.Now)
}

// askTracking sends chronyc's tracking request to the command port and
// returns the reply's status.
func askTracking(port int) (status uint16, err error) {
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	req := make([]byte, cmdmon.RequestLen(33)) // REQ_TRACKING
	req[0], req[1], req[5] = 6, 1, 33
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	if err != nil {
		return 0, err
	}
	if n != 28+76 || buf[7] != 5 { // RPY_TRACKING
		return 0, fmt.Errorf("reply of %d bytes, type %d", n, buf[7])
	}
	return binary.BigEndian.Uint16(buf[8:]), nil
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunFollowsLinksAndConfig: the running services follow the links
// (allow connected serves a subnet once the box is on it), a new config
// with a lease (option 42's server becomes a source, and goes with the
// lease), and a change beyond the lease (the services restart with it).
func TestRunFollowsLinksAndConfig(t *testing.T) {
	port, cmdPort := freePort(t), freePort(t)
	sock := filepath.Join(t.TempDir(), "ntpbox.sock")
	text := fmt.Sprintf("allow connected\nport %d\nbindaddress 127.0.0.1\nbindcmdaddress %s\ncmdport %d\nbindcmdaddress 127.0.0.1\nlocal stratum 10\n", port, sock, cmdPort)
	cfg, _, err := config.ParseBytes("box.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	links := make(chan netstate.State, 4)
	updates := make(chan *config.Config, 4)
	// A link that is no loopback, so that its subnet counts as connected.
	off := netstate.State{Links: []netstate.Link{{Name: "eth9", Up: true}}}
	on := netstate.State{Links: []netstate.Link{{Name: "eth9", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}}}}
	links <- off
	var o Options
	o.NoClockControl, o.Workers, o.Links = true, 1, links
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, updates, o) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	eventually(t, "the control socket answers", func() bool {
		var tr upstream.TrackingReport
		return control.Request(context.Background(), sock, control.CmdTracking, &tr) == nil
	})
	if r, err := ask(port); err == nil {
		t.Fatalf("answered before the box was on the client's subnet: %+v", r.Header)
	}
	if st, err := askTracking(cmdPort); err != nil || st != 0 {
		t.Errorf("command port: status %d, %v; want a tracking reply", st, err)
	}
	links <- on
	eventually(t, "127.0.0.1 is served once it is a connected subnet", func() bool { _, err := ask(port); return err == nil })

	sources := func() string {
		var s []upstream.SourceReport
		if err := control.Request(context.Background(), sock, control.CmdSources, &s); err != nil {
			return err.Error()
		}
		var out []string
		for _, r := range s {
			out = append(out, r.Addr.String())
		}
		return strings.Join(out, " ")
	}
	leased, _, _ := config.Merge(nil, &config.Lease{Interface: "eth9", Address: netip.MustParsePrefix("127.0.0.1/8"),
		Server: netip.MustParseAddr("127.0.0.3"), Obtained: time.Now(), Duration: time.Hour},
		config.FilePart(config.LayerFile, "box.conf", []byte(text)))
	// Merge drops a loopback option 42 server (Lease.Clamp: the LAN may
	// not make the box poll itself); this test has only loopback, so the
	// lease's source is added as Merge adds a LAN one.
	src := config.DefaultSource(false)
	src.Host, src.IBurst, src.Origin = "127.0.0.3", true, config.Origin{Layer: config.LayerLease, Note: "option 42 from 127.0.0.3"}
	leased.Sources = append(leased.Sources, src)
	updates <- leased
	eventually(t, "option 42's server is a source", func() bool { return sources() == "127.0.0.3:123" })
	updates <- cfg
	eventually(t, "the source goes with the lease", func() bool { return sources() == "" })

	// A change beyond the lease: the services start again with it.
	other, _, _ := config.ParseBytes("box.conf", []byte(strings.Replace(text, "local stratum 10", "local stratum 12", 1)))
	updates <- other
	eventually(t, "the restarted service serves the new stratum", func() bool {
		r, err := ask(port)
		return err == nil && r.Header.Stratum == 12
	})
}
