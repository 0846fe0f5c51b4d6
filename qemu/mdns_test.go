//go:build linux

package qemu_test

// Found by name (issue 12): the box answers mDNS as ntpbox-XXXXXX.local
// (the MAC's last three octets) and announces _ntp._udp with DNS-SD; it
// answers once its probes (RFC 6762 §8.1) found the name free.

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ntpbox/ntpbox/qemu"
)

func TestMDNSInVM(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "dig", "mcopy")
	lab := qemu.NewLabT(t)
	conf := "address " + qemu.LabVMAddr + "/24\nallow all\nlocal stratum 10\n"
	vm := closetBox(t, lab, closetDisk(t, map[string]string{"ntpbox.conf": conf}))
	if _, err := discWaitLine(vm, `msg="mdns: announcing" component=mdns name=ntpbox-123456.local.`, bootTimeout); err != nil {
		t.Fatal(err)
	}
	host := "ntpbox-" + strings.ReplaceAll(closetMAC[9:], ":", "") + ".local"

	// dig, as a legacy resolver asking the box directly (RFC 6762 §5.5;
	// dig does not take a unicast reply to a query sent to 224.0.0.251).
	out, err := discRun(lab.Client("dig", "@"+qemu.LabVMAddr, "-p", "5353", "+tries=3", "+time=3", "+short", host, "A"), discClientTimeout)
	if err != nil || strings.TrimSpace(out) != qemu.LabVMAddr {
		t.Errorf("dig -p 5353 %s A: %v\n%s", host, err, out)
	}
	out, err = discRun(lab.Client("dig", "@"+qemu.LabVMAddr, "-p", "5353", "+tries=3", "+time=3", "_ntp._udp.local", "PTR"), discClientTimeout)
	if err != nil || !strings.Contains(out, "ntpbox-123456._ntp._udp.local.") || !strings.Contains(out, "SRV\t0 0 123 "+host+".") {
		t.Errorf("dig -p 5353 _ntp._udp.local PTR: %v\n%s", err, out)
	}
	t.Logf("dig _ntp._udp.local PTR:\n%s", out)

	// A multicast querier, as avahi or Bonjour ask: from port 5353 to
	// 224.0.0.251, the answer on the group.
	var answer *dns.Msg
	err = qemu.InNetns(lab.ClientNetns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
		if err != nil {
			return err
		}
		defer c.Close()
		q := new(dns.Msg)
		q.SetQuestion("_ntp._udp.local.", dns.TypePTR)
		q.Id = 0
		b, _ := q.Pack()
		buf := make([]byte, 9000)
		for try := 0; try < 5 && answer == nil; try++ {
			if _, err := c.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				n, from, err := c.ReadFromUDP(buf)
				if err != nil {
					break
				}
				var m dns.Msg
				if m.Unpack(buf[:n]) == nil && m.Response && from.IP.String() == qemu.LabVMAddr {
					for _, rr := range m.Answer {
						if p, ok := rr.(*dns.PTR); ok && p.Hdr.Name == "_ntp._udp.local." {
							answer = &m
						}
					}
					if answer != nil {
						break
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		t.Fatal("no multicast answer to a PTR query for _ntp._udp.local")
	}
	t.Logf("multicast answer:\n%v", answer)
	found := false
	for _, rr := range append(answer.Answer, answer.Extra...) {
		if a, ok := rr.(*dns.A); ok && a.Hdr.Name == host+"." && a.A.String() == qemu.LabVMAddr {
			found = true
		}
	}
	if !found {
		t.Errorf("the multicast answer lacks %s A %s", host, qemu.LabVMAddr)
	}
	powerOff(t, vm)
}
