//go:build linux

package qemu_test

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/qemu"
)

// dhcpServer serves one lease in the lab, from the bridge in the VM's
// namespace: qemu.LabVMAddr/24, with the lab's upstream as the NTP server
// (option 42), for leaseTime. It counts the ACKs it sends.
func dhcpServer(t *testing.T, lab *qemu.Lab, leaseTime time.Duration) <-chan *dhcpv4.DHCPv4 {
	host := net.ParseIP(qemu.LabHostAddr).To4()
	return dhcpServerLease(t, lab, leaseTime, net.CIDRMask(qemu.LabPrefixLen, 32), []net.IP{host})
}

// dhcpServerLease is dhcpServer with the lease's netmask and option 42
// servers chosen by the test.
func dhcpServerLease(t *testing.T, lab *qemu.Lab, leaseTime time.Duration, mask net.IPMask, ntp []net.IP) <-chan *dhcpv4.DHCPv4 {
	t.Helper()
	host := net.ParseIP(qemu.LabHostAddr).To4()
	acks := make(chan *dhcpv4.DHCPv4, 100)
	handler := func(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
		var typ dhcpv4.MessageType
		switch m.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			typ = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			typ = dhcpv4.MessageTypeAck
		default:
			return
		}
		resp, err := dhcpv4.NewReplyFromRequest(m,
			dhcpv4.WithMessageType(typ),
			dhcpv4.WithYourIP(net.ParseIP(qemu.LabVMAddr).To4()),
			dhcpv4.WithServerIP(host),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(host)),
			dhcpv4.WithOption(dhcpv4.OptSubnetMask(mask)),
			dhcpv4.WithOption(dhcpv4.OptNTPServers(ntp...)),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(leaseTime)),
		)
		if err != nil {
			t.Errorf("DHCP reply: %v", err)
			return
		}
		dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		if _, err := conn.WriteTo(resp.ToBytes(), dst); err != nil {
			t.Errorf("DHCP send: %v", err)
			return
		}
		if typ == dhcpv4.MessageTypeAck {
			acks <- resp
		}
	}
	var srv *server4.Server
	err := qemu.InNetns(lab.VMNetns, func() error {
		var err error
		srv, err = server4.NewServer("br0", &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, handler)
		return err
	})
	if err != nil {
		t.Fatalf("DHCP server: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve() }()
	t.Cleanup(func() { srv.Close(); <-done })
	return acks
}

// With ntpbox.address=dhcp and no server on the command line, the box
// leases its address from the lab's DHCP server, takes the NTP server
// from option 42, synchronises to it and serves stratum 3 to the client
// namespace (allowed as the lease's subnet); it renews the lease.
func TestDHCPAddressAndNTPServer(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	acks := dhcpServer(t, lab, time.Minute)

	vm := qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs,
		Append: []string{"ntpbox.address=dhcp"},
		Netns:  lab.VMNetns, Tap: lab.Tap,
	})
	r, at := firstReply(t, lab, vm)
	t.Logf("first NTP reply %.2f s after QEMU started: stratum %d", at.Seconds(), r.Header.Stratum)
	for _, want := range []string{`msg="DHCP lease"`, appliance.SentinelServing} {
		if _, err := vm.Expect(want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	waitStratum3(t, lab, vm)
	// The lease is a minute long: a renewal comes at its half.
	for n := 0; n < 2; n++ {
		select {
		case <-acks:
		case <-time.After(2 * time.Minute):
			t.Fatalf("%d DHCP ACKs sent; want the lease and its renewal", n)
		}
	}
}

// A LAN's DHCP server cannot decide what only the admin may (issue 11).
// The lease has netmask 0 and option 42 names 50 servers: first the box
// itself, then the lab's upstream, then 48 more. The box clamps the
// netmask to /16 and uses 4 servers, not itself; the screen shows the
// clamped config as `ntpbox config` prints it, and the box still
// synchronises to the upstream and serves the client at stratum 3.
func TestDHCPLeaseClamped(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "chronyd", "setpriv")
	lab := qemu.NewLabT(t)
	lab.UpstreamT(t, 2)
	waitUpstream(t, lab)
	ntp := []net.IP{net.ParseIP(qemu.LabVMAddr).To4(), net.ParseIP(qemu.LabHostAddr).To4()}
	for i := range 48 {
		ntp = append(ntp, net.IPv4(198, 18, 200, byte(1+i)).To4())
	}
	dhcpServerLease(t, lab, 10*time.Minute, net.IPv4Mask(0, 0, 0, 0), ntp)

	vm := qemu.StartT(t, qemu.Config{
		Kernel: img.Kernel, Initramfs: img.Initramfs,
		Append: []string{"ntpbox.address=dhcp"},
		Netns:  lab.VMNetns, Tap: lab.Tap,
	})
	for _, want := range []string{
		"config: # clamped: netmask /0 is wider than /16: clamped to /16",
		"config: # clamped: option 42: " + qemu.LabVMAddr + " is the box itself: not used",
		"config: # clamped: option 42 named more than 4 servers: only the first 4 are used",
		"config: server " + qemu.LabHostAddr + " iburst",
		"config: server 198.18.200.3 iburst",
	} {
		if _, err := discWaitLine(vm, want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if n := discConsoleCount(vm, "config: server 198.18.200.4 iburst"); n != 0 {
		t.Errorf("a fifth option 42 server is in the config (%d lines)", n)
	}
	if n := discConsoleCount(vm, "config: server "+qemu.LabVMAddr+" "); n != 0 {
		t.Errorf("the box polls itself (%d config lines)", n)
	}
	waitStratum3(t, lab, vm)
}

// waitStratum3 waits until the box serves stratum 3 (synchronised to the
// lab's upstream), or fails the test after syncWithin.
func waitStratum3(t *testing.T, lab *qemu.Lab, vm *qemu.VM) {
	t.Helper()
	deadline := time.Now().Add(syncWithin)
	for {
		st, off, err := digMedian(lab, 3)
		if err == nil && st == 3 {
			t.Logf("serving stratum 3 (offset %v) %.1f s after QEMU started", off, time.Since(vm.Started).Seconds())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving stratum 3 within %v: stratum %d, %v", syncWithin, st, err)
		}
		time.Sleep(time.Second)
	}
}
