//go:build linux

package qemu_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/control/cmdmon"
	"github.com/ntpbox/ntpbox/qemu"
)

// labelledValue returns the value of a "Label : value" line.
func labelledValue(out, label string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == label {
			return strings.TrimSpace(v)
		}
	}
	return "<no " + label + ">"
}

// lineHeads is the first word of each line: a table's title and names,
// a report's labels.
func lineHeads(out string) string {
	var hs []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			hs = append(hs, f[0])
		}
	}
	return strings.Join(hs, " ")
}

// sourceNames are the Name column of a sources table.
func sourceNames(out string) string {
	_, body, _ := strings.Cut(out, "=\n")
	var names []string
	for _, l := range strings.Split(body, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, " ")
}

// TestChronycFromLAN: Debian's chronyc -h reads the booted image from
// the LAN, which the baked `cmdallow connected` lets in; state changes
// are refused; a LAN host in cmddeny gets nothing; and no request type
// gets a reply longer than itself.
func TestChronycFromLAN(t *testing.T) {
	const denied = "198.18.0.11"
	qemu.RequireT(t, qemu.FindImage(), "chronyc")
	lab, vm := bootLab(t, "virtio-net-pci", 256, "ntpbox.cmddeny="+denied)
	firstReply(t, lab, vm)
	if _, err := vm.Expect(appliance.SentinelServing, bootTimeout); err != nil {
		t.Fatal(err)
	}
	chronyc := func(args ...string) (string, error) {
		out, err := lab.Client("chronyc", append([]string{"-h", qemu.LabVMAddr, "-n"}, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, cmd := range [][]string{{"tracking"}, {"sources", "-a", "-v"}, {"sourcestats", "-a", "-v"}, {"activity"},
		{"serverstats"}, {"clients"}, {"ntpdata"}} {
		out, err := chronyc(cmd...)
		t.Logf("chronyc %s:\n%s", strings.Join(cmd, " "), out)
		if err != nil {
			t.Errorf("chronyc %s: %v", strings.Join(cmd, " "), err)
		}
		switch cmd[0] {
		case "tracking":
			if labelledValue(out, "Stratum") != fmt.Sprint(wantStratum) || labelledValue(out, "Reference ID") != "7F7F0101 ()" {
				t.Errorf("tracking: want the local clock at stratum %d", wantStratum)
			}
		case "serverstats":
			if labelledValue(out, "NTP packets received") == "0" {
				t.Errorf("serverstats: no NTP packet counted, though the client was answered")
			}
		case "clients":
			if !strings.Contains(out, "\n"+qemu.LabClientAddr+" ") {
				t.Errorf("clients: %s, which was answered, is not listed", qemu.LabClientAddr)
			}
		}
	}
	if out, err := chronyc("rtcdata"); err == nil || out != "513 RTC driver not running\n" {
		t.Errorf("chronyc rtcdata: %v\n%s", err, out)
	}
	for _, cmd := range []string{"makestep", "burst 4/4", "reload sources"} {
		if out, err := chronyc(strings.Fields(cmd)...); err == nil || out != "501 Not authorised\n" {
			t.Errorf("chronyc %s: %v\n%s", cmd, err, out)
		}
	}

	// ntpbox -h BOX from the LAN: the same reports as chronyc -h.
	bin := os.Getenv("NTPBOX_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "ntpbox")
		goBuild(t, bin, "github.com/ntpbox/ntpbox/cmd/ntpbox")
	}
	ntpboxH := func(args ...string) (string, error) {
		out, err := lab.Client(bin, append([]string{"-h", qemu.LabVMAddr}, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, cmd := range []string{"tracking", "sources", "activity", "ntpdata"} {
		n, err := ntpboxH(cmd)
		t.Logf("ntpbox -h %s %s:\n%s", qemu.LabVMAddr, cmd, n)
		c, cerr := chronyc(cmd)
		if err != nil || cerr != nil {
			t.Errorf("ntpbox -h %s: %v; chronyc: %v", cmd, err, cerr)
			continue
		}
		switch cmd {
		case "tracking":
			if labelledValue(n, "Stratum") != fmt.Sprint(wantStratum) || labelledValue(n, "Reference ID") != "7F7F0101 ()" ||
				labelledValue(n, "Leap status") != labelledValue(c, "Leap status") {
				t.Errorf("ntpbox -h tracking: want chronyc's local clock at stratum %d:\n%s", wantStratum, n)
			}
		case "activity":
			if n != c {
				t.Errorf("ntpbox -h activity:\n%s\nchronyc:\n%s", n, c)
			}
		case "sources": // the same title and the same sources, in order
			if sourceNames(n) != sourceNames(c) || !strings.HasPrefix(n, "MS Name/IP address") {
				t.Errorf("ntpbox -h %s:\n%s\nchronyc:\n%s", cmd, n, c)
			}
		default: // the same labels
			if lineHeads(n) != lineHeads(c) {
				t.Errorf("ntpbox -h %s:\n%s\nchronyc:\n%s", cmd, n, c)
			}
		}
	}
	if out, err := ntpboxH("makestep"); err == nil || !strings.Contains(out, "501 Not authorised: the box refuses this command from the network") {
		t.Errorf("ntpbox -h makestep: %v\n%s", err, out)
	}

	// A host of the LAN that cmddeny names gets no reply.
	ns, err := lab.AddNetns("deny", denied+"/24")
	if err != nil {
		t.Fatal(err)
	}
	out, err := qemu.In(ns, "chronyc", "-h", qemu.LabVMAddr, "-n", "-m", "timeout 500", "retries 1", "tracking").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "506 Cannot talk to daemon") {
		t.Errorf("chronyc from %s, in cmddeny: %v\n%s", denied, err, out)
	}

	// Every request type, at its padded length and one byte short: the
	// reply is never longer than the request.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := lab.DialClient(ctx, "udp4", qemu.LabVMAddr+":323")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	// exchange sends req and returns the length of its reply (matched by
	// sequence number), or -1 when none comes within wait.
	exchange := func(req []byte, wait time.Duration) int {
		c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := c.Read(buf)
			if err != nil {
				return -1
			}
			if m >= 20 && string(buf[16:20]) == string(req[8:12]) {
				return m
			}
		}
	}
	for cmd := range 80 {
		full := max(cmdmon.RequestLen(cmd), 28)
		for _, n := range []int{full, full - 1} {
			req := make([]byte, n)
			req[0], req[1] = 6, 1
			binary.BigEndian.PutUint16(req[4:], uint16(cmd))
			binary.BigEndian.PutUint32(req[8:], uint32(cmd<<16|n))
			if n < 28 {
				// Too short to answer without amplifying: dropped.
				if m := exchange(req, 300*time.Millisecond); m >= 0 {
					t.Errorf("request type %d, %d bytes: answered with %d", cmd, n, m)
				}
				continue
			}
			switch m := exchange(req, 2*time.Second); {
			case m < 0:
				t.Errorf("request type %d, %d bytes: no reply", cmd, n)
			case m > n:
				t.Errorf("request type %d, %d bytes: reply of %d", cmd, n, m)
			}
		}
	}
}
