//go:build linux

package qemu_test

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// A namespace added to the lab reaches the client over the bridge, and
// Close removes every namespace, the added one too.
func TestLabAddNetnsAndTap(t *testing.T) {
	qemu.RequireT(t, qemu.FindImage())
	lab, err := qemu.NewLab()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := lab.AddNetns("up", "198.18.0.5/24")
	if err != nil {
		lab.Close()
		t.Fatal(err)
	}
	if err := lab.AddTap("tap1"); err != nil {
		lab.Close()
		t.Fatal(err)
	}
	if err := udpReaches(ns, lab.ClientNetns, qemu.LabClientAddr+":9"); err != nil {
		lab.Close()
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	for _, n := range []string{lab.VMNetns, lab.ClientNetns, ns} {
		if strings.Contains(string(list), n) {
			t.Errorf("namespace %s left behind", n)
		}
	}
}

// udpReaches sends a datagram from namespace from to addr, listened on in
// namespace to.
func udpReaches(from, to, addr string) error {
	var pc net.PacketConn
	if err := qemu.InNetns(to, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		return err
	}
	defer pc.Close()
	err := qemu.InNetns(from, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("lab"))
		return err
	})
	if err != nil {
		return err
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "lab" {
		return fmt.Errorf("datagram from %s to %s in %s: got %q, %v", from, addr, to, buf[:n], err)
	}
	return nil
}
