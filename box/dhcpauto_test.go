package box

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

// Any lease the box gives carries the router and DNS servers the box
// itself uses, unless `dhcp server` names its own.
func TestLeaseRouterAndDNS(t *testing.T) {
	lan := ifaceAddr{"eth0", netip.MustParsePrefix("198.18.0.2/24")}
	for _, tc := range []struct {
		name, conf, router, dns string
	}{
		{"auto: the box's gateway and nameservers", "address 198.18.0.2/24\ngateway 198.18.0.1\nnameserver 198.18.0.53\nnameserver 2001:db8::53\nnameserver 198.18.1.53\ndhcp auto",
			"198.18.0.1", "[198.18.0.53 198.18.1.53]"},
		{"auto: no nameserver, dns zone: the box", "gateway 198.18.0.1\ndns zone lab.test\ndhcp auto", "198.18.0.1", "[198.18.0.2]"},
		{"auto: nothing", "dhcp auto", "invalid IP", "[]"},
		{"auto: gateway off the subnet", "gateway 198.19.0.1\nnameserver 127.0.0.53\ndhcp auto", "invalid IP", "[]"},
		{"server: explicit options win", "gateway 198.18.0.1\nnameserver 198.18.0.53\ndhcp server 198.18.0.100 198.18.0.150 router 198.18.0.254 dns 198.18.0.9",
			"198.18.0.254", "[198.18.0.9]"},
		{"server: the box's own by default", "gateway 198.18.0.1\nnameserver 198.18.0.53\ndhcp server 198.18.0.100 198.18.0.150",
			"198.18.0.1", "[198.18.0.53]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, tc.conf)
			r, d := leaseRouter(cfg, lan), leaseDNS(cfg, lan)
			if r.String() != tc.router || fmt.Sprint(d) != tc.dns {
				t.Errorf("router %v, dns %v; want %s, %s", r, d, tc.router, tc.dns)
			}
			if !strings.Contains(tc.conf, "dhcp server") {
				return
			}
			c := dhcpConfig(cfg, lan)
			if c.Router != r || !slices.Equal(c.DNSServers, d) {
				t.Errorf("dhcpConfig: router %v, dns %v", c.Router, c.DNSServers)
			}
		})
	}
}

// fakeSearch scripts the results of the box's searches.
type fakeSearch struct {
	mu      sync.Mutex
	servers []netip.Addr // what each search finds from now on
	err     error
	times   []time.Time          // when each search started
	as      [][]dhcpopt.SearchAs // the clients each asked as
}

func (f *fakeSearch) probe(ctx context.Context, iface string, as []dhcpopt.SearchAs) ([]netip.Addr, error) {
	f.mu.Lock()
	f.times = append(f.times, time.Now())
	f.as = append(f.as, as)
	servers, err := f.servers, f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	<-ctx.Done()
	return servers, ctx.Err()
}

func (f *fakeSearch) set(servers []netip.Addr, err error) {
	f.mu.Lock()
	f.servers, f.err = servers, err
	f.mu.Unlock()
}

func (f *fakeSearch) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times)
}

// autoOnLAN runs `dhcp auto` (with conf) on 198.18.0.2/24 without sockets:
// the handler is called directly. The record goes to dir.
func autoOnLAN(t *testing.T, dir, conf string, log *bytes.Buffer) (*autoDHCP, *dhcpopt.Handler, func()) {
	t.Helper()
	cfg := parse(t, "driftfile "+dir+"/drift\n"+conf)
	lan := ifaceAddr{"eth0", netip.MustParsePrefix("198.18.0.2/24")}
	a, err := newAutoDHCP(cfg, lan, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := dhcpopt.NewHandler(a.dc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	a.start(h, &wg)
	return a, h, func() { a.close(); wg.Wait() }
}

func withFakeSearch(t *testing.T) *fakeSearch {
	f := &fakeSearch{}
	old := probeServers
	probeServers = f.probe
	t.Cleanup(func() { probeServers = old })
	return f
}

// The power cut: alone on the segment the box leases after 3 empty
// searches about 20 s apart; when the LAN's server answers a search, it
// stops, records the server, and after a restart does not lease again.
func TestAutoLeasesAloneThenYieldsForGood(t *testing.T) {
	dir := t.TempDir()
	dnsmasq := netip.MustParseAddr("198.18.0.1")
	synctest.Test(t, func(t *testing.T) {
		search := withFakeSearch(t)
		var log bytes.Buffer
		start := time.Now()
		a, h, stop := autoOnLAN(t, dir, "gateway 198.18.0.1\nnameserver 198.18.0.1\ndhcp auto", &log)
		if d := h.Auto(); d.Mode != dhcpopt.AutoInform || d.Yield {
			t.Fatalf("at start: %+v", d)
		}
		for h.Auto().Mode != dhcpopt.AutoLease {
			time.Sleep(time.Second)
			if time.Since(start) > 2*time.Minute {
				t.Fatalf("not leasing after 2 min: %+v, %d searches", h.Auto(), search.count())
			}
		}
		took := time.Since(start)
		if n := search.count(); n != 3 || took < 2*autoSearchEvery+autoSearchWait || took > 2*autoSearchEvery+autoSearchWait+autoJitter {
			t.Errorf("leasing after %v and %d searches; want 3 searches 20 s apart", took, n)
		}
		t.Logf("leasing %v after start", took)

		search.set([]netip.Addr{dnsmasq}, nil)
		appeared := time.Now()
		for !h.Auto().Yield {
			time.Sleep(time.Second)
			if time.Since(appeared) > 2*time.Minute {
				t.Fatalf("still %+v 2 min after the server appeared", h.Auto())
			}
		}
		if d := time.Since(appeared); d > autoReprobe+autoSearchWait {
			t.Errorf("yielded %v after the server appeared, want within %v", d, autoReprobe+autoSearchWait)
		}
		// The server goes away again: the box never leases again.
		search.set(nil, nil)
		time.Sleep(time.Hour)
		// Searches 20 s apart until the box leased, then every minute, then
		// every 10 minutes once it yielded.
		search.mu.Lock()
		var gaps []time.Duration
		for i := 1; i < len(search.times); i++ {
			gaps = append(gaps, search.times[i].Sub(search.times[i-1]))
		}
		search.mu.Unlock()
		if len(gaps) < 8 || gaps[0] != autoSearchEvery || gaps[1] != autoSearchEvery || gaps[2] != autoSearchWait+autoReprobe ||
			gaps[len(gaps)-1] != autoSearchWait+autoRecheck {
			t.Errorf("gaps between searches: %v", gaps)
		}
		if d := h.Auto(); d.Mode != dhcpopt.AutoInform || !d.Yield || d.Server.Server != dnsmasq {
			t.Errorf("an hour later: %+v", d)
		}
		stop()
		for _, want := range []string{
			`msg="dhcp auto: answering DHCPINFORM only" interface=eth0 reason="searching for other DHCP servers: 0 of 3 searches found none"`,
			`msg="dhcp auto: no other DHCP server answered: leasing addresses"`,
			`range=198.18.0.128-198.18.0.254 lease=2m0s router=198.18.0.1 dns=[198.18.0.1]`,
			`msg="dhcp auto: another DHCP server appeared on the segment: stopped leasing`,
			`server=198.18.0.1 seen=search`,
		} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, log.String())
			}
		}
		if n := strings.Count(log.String(), "leasing addresses"); n != 1 {
			t.Errorf("leased %d times", n)
		}
		if a.decision.Server.Server != dnsmasq {
			t.Errorf("decision %+v", a.decision)
		}

		// The power comes back; the box boots first.
		log.Reset()
		_, h, stop = autoOnLAN(t, dir, "dhcp auto", &log)
		defer stop()
		if d := h.Auto(); d.Mode != dhcpopt.AutoInform || !d.Yield || d.Server.Server != dnsmasq {
			t.Fatalf("after a restart: %+v", d)
		}
		time.Sleep(10 * time.Minute)
		if d := h.Auto(); d.Mode != dhcpopt.AutoInform || !d.Yield {
			t.Errorf("10 min after a restart: %+v", d)
		}
		if !strings.Contains(log.String(), "another DHCP server leases on this segment: answering DHCPINFORM only, never leasing") {
			t.Errorf("log:\n%s", log.String())
		}
	})
	b, err := os.ReadFile(filepath.Join(dir, "dhcp.servers"))
	if err != nil || !strings.Contains(string(b), `"server":"198.18.0.1","subnet":"198.18.0.0/24"`) {
		t.Errorf("record: %v\n%s", err, b)
	}
}

// A client's request naming another server stops the leasing without
// waiting for a search, and is recorded.
func TestAutoYieldsToPassiveSighting(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		withFakeSearch(t)
		var log bytes.Buffer
		_, h, stop := autoOnLAN(t, dir, "dhcp auto", &log)
		defer stop()
		time.Sleep(time.Minute)
		if h.Auto().Mode != dhcpopt.AutoLease {
			t.Fatalf("not leasing: %+v", h.Auto())
		}
		req, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithHwAddr([]byte{0x52, 0x54, 0, 0, 0, 1}),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier([]byte{198, 18, 0, 1})),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress([]byte{198, 18, 0, 60})))
		h.Handle(req, time.Now())
		synctest.Wait()
		if !strings.Contains(log.String(), "stopped leasing") || !strings.Contains(log.String(), "server=198.18.0.1 seen=passive") {
			t.Errorf("log:\n%s", log.String())
		}
		seen, err := dhcpopt.LoadServers(filepath.Join(dir, "dhcp.servers"))
		if err != nil || len(seen) != 1 || seen[0].How != dhcpopt.SeenPassive {
			t.Errorf("record %+v, %v", seen, err)
		}
	})
}

// While leasing, the search also asks as the box's clients: a server that
// answers only the MACs it knows answers them once it is back.
func TestAutoSearchesAsItsClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		search := withFakeSearch(t)
		var log bytes.Buffer
		_, h, stop := autoOnLAN(t, t.TempDir(), "dhcp auto", &log)
		defer stop()
		time.Sleep(time.Minute)
		if h.Auto().Mode != dhcpopt.AutoLease {
			t.Fatalf("not leasing: %+v", h.Auto())
		}
		client := []byte{0x52, 0x54, 0, 0, 0, 0x0a}
		var offer *dhcpv4.DHCPv4
		for range 3 {
			m, _ := dhcpv4.NewDiscovery(client)
			offer, _ = h.Handle(m, time.Now())
			time.Sleep(2 * time.Second)
		}
		if offer == nil {
			t.Fatal("no offer after 3 DISCOVERs 2 s apart")
		}
		req, _ := dhcpv4.NewRequestFromOffer(offer)
		if ack, err := h.Handle(req, time.Now()); ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
			t.Fatalf("REQUEST: %v, %v", ack, err)
		}
		n := search.count()
		for search.count() == n {
			time.Sleep(time.Second)
		}
		search.mu.Lock()
		as := search.as[len(search.as)-1]
		search.mu.Unlock()
		if len(as) != 1 || !slices.Equal(as[0].HW, client) {
			t.Errorf("the search while leasing asked as %+v, want the client %v", as, client)
		}
		if search.as[0] != nil {
			t.Errorf("the first search asked as %+v, want nobody", search.as[0])
		}
	})
}

// A search that cannot run never starts the leasing.
func TestAutoSearchFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		search := withFakeSearch(t)
		search.set(nil, os.ErrPermission)
		var log bytes.Buffer
		_, h, stop := autoOnLAN(t, t.TempDir(), "dhcp auto", &log)
		defer stop()
		time.Sleep(5 * time.Minute)
		if d := h.Auto(); d.Mode != dhcpopt.AutoInform || search.count() < 10 {
			t.Errorf("%+v after %d failed searches", d, search.count())
		}
		if !strings.Contains(log.String(), "cannot look for other DHCP servers") {
			t.Errorf("log:\n%s", log.String())
		}
	})
}
