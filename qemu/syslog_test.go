//go:build linux

package qemu_test

// Logs off the box (issue 12): with `logserver`, a syslog listener on
// the LAN receives the box's boot and sync messages as RFC 5424 over UDP.

import (
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

var syslog5424 = regexp.MustCompile(`^<(\d{1,3})>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (\S+) ntpbox (\S+) - - (.*)$`)

func TestSyslogInVM(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv", "mcopy")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)

	// The log server: a UDP socket on the bridge's address, where a
	// LAN's syslog host would be.
	var conn *net.UDPConn
	if err := qemu.InNetns(lab.VMNetns, func() error {
		var err error
		conn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(qemu.LabHostAddr), Port: 5514})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var msgs []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, string(buf[:n]))
			mu.Unlock()
		}
	}()
	has := func(s string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if strings.Contains(m, s) {
				return m, true
			}
		}
		return "", false
	}

	conf := "address " + qemu.LabVMAddr + "/24\nserver " + qemu.LabHostAddr + " iburst\nallow all\nlogserver " + qemu.LabHostAddr + ":5514\n"
	vm := closetBox(t, lab, closetDisk(t, map[string]string{"ntpbox.conf": conf}))
	for _, want := range []string{`msg="ntpbox init starting"`, `msg=synchronised `} {
		deadline := time.Now().Add(bootTimeout)
		for {
			if m, ok := has(want); ok {
				t.Logf("received: %s", m)
				if sm := syslog5424.FindStringSubmatch(m); sm == nil || !strings.HasPrefix(sm[2], "ntpbox-") {
					t.Errorf("not an RFC 5424 message from the box: %q", m)
				}
				break
			}
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("no %s among the %d messages received", want, len(msgs))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	powerOff(t, vm)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d syslog messages received", len(msgs))
	for _, m := range msgs {
		if syslog5424.FindStringSubmatch(m) == nil {
			t.Errorf("not RFC 5424: %q", m)
		}
	}
}
