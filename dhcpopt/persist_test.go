package dhcpopt

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestLeasesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	if got, err := LoadLeases(path); err != nil || got != nil {
		t.Fatalf("missing file: %v, %v", got, err)
	}
	want := []Lease{
		{Client: "hw:52:54:00:00:00:0a", Addr: netip.MustParseAddr("198.18.0.100"), Expires: t0, Hostname: "alpha"},
		{Client: "id:ff010203", Addr: netip.MustParseAddr("198.18.0.101"), Expires: t0.Add(time.Hour)},
	}
	if err := SaveLeases(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b Lease) bool {
		return a.Client == b.Client && a.Addr == b.Addr && a.Expires.Equal(b.Expires) && a.Hostname == b.Hostname
	}) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Overwrite: no temporary files left behind.
	if err := SaveLeases(path, want[:1]); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
}

func TestLoadCorruptLeases(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leases")
	for i, body := range []string{
		"{\"client\":\"hw:a\",\"addr\":\"198.18.0.100\",\"expires\":\"2026-11-26T03:00:00Z\"}\n{not json\n",
		"{\"client\":\"hw:a\",\"addr\":\"198.18.0.100\",\"expires\":\"2026-11-26T03:00:00Z\"}", // truncated
		"{\"client\":\"hw:a\",\"addr\":\"2001:db8::1\",\"expires\":\"2026-11-26T03:00:00Z\"}\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadLeases(path)
		var ce *CorruptError
		if !errors.As(err, &ce) || got != nil {
			t.Fatalf("case %d: got %v, %v; want *CorruptError", i, got, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
		saved, rerr := os.ReadFile(ce.SavedAs)
		if rerr != nil || string(saved) != body {
			t.Errorf("case %d: corrupt file not kept intact at %s: %v", i, ce.SavedAs, rerr)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("corrupt file still at %s", path)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("want 3 kept files, have %d", len(ents))
	}
}

// A restarted server that loads its lease file still knows its clients.
func TestLeasesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	h := newHandler(t, serverConfig(), nil)
	a := dora(t, h, hwA, t0)
	if err := SaveLeases(path, h.Leases()); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadLeases(path)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := NewHandler(serverConfig(), nil, loaded)
	if err != nil {
		t.Fatal(err)
	}
	reboot := msg(t, dhcpv4.MessageTypeRequest, hwA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip(a))))
	resp, err := handle(t, h2, reboot, t0.Add(time.Minute))
	wantType(t, resp, err, dhcpv4.MessageTypeAck)
	if b := dora(t, h2, hwB, t0.Add(time.Minute)); b == a {
		t.Errorf("B got A's address %v after restart", a)
	}
}

func TestServersRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dhcp.servers")
	if got, err := LoadServers(path); err != nil || got != nil {
		t.Fatalf("missing file: %v, %v", got, err)
	}
	want := []SeenServer{
		{Server: netip.MustParseAddr("198.18.0.1"), Subnet: netip.MustParsePrefix("198.18.0.0/24"), LastSeen: t0, How: SeenSearch},
		{Server: netip.MustParseAddr("198.19.0.1"), Subnet: netip.MustParsePrefix("198.19.0.0/16"), LastSeen: t0.Add(time.Hour), How: SeenPassive},
	}
	if err := SaveServers(path, want); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if line := `{"server":"198.18.0.1","subnet":"198.18.0.0/24","last_seen":"2026-11-26T03:00:00Z","how":"search"}`; !strings.HasPrefix(string(b), line+"\n") {
		t.Errorf("file:\n%s\nwant first line %s", b, line)
	}
	got, err := LoadServers(path)
	if err != nil || !slices.EqualFunc(got, want, func(a, b SeenServer) bool {
		return a.Server == b.Server && a.Subnet == b.Subnet && a.LastSeen.Equal(b.LastSeen) && a.How == b.How
	}) {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestServersCorrupt(t *testing.T) {
	for name, text := range map[string]string{
		"truncated":       `{"server":"198.18.0.1","subnet":"198.18.0.0/24","last_seen":"2026-11-26T03:00:00Z","how":"search"}`,
		"unknown how":     `{"server":"198.18.0.1","subnet":"198.18.0.0/24","last_seen":"2026-11-26T03:00:00Z","how":"rumour"}` + "\n",
		"ipv6":            `{"server":"2001:db8::1","subnet":"2001:db8::/64","last_seen":"2026-11-26T03:00:00Z","how":"search"}` + "\n",
		"unmasked subnet": `{"server":"198.18.0.1","subnet":"198.18.0.1/24","last_seen":"2026-11-26T03:00:00Z","how":"search"}` + "\n",
		"two objects":     `{"server":"198.18.0.1","subnet":"198.18.0.0/24","how":"search"} {}` + "\n",
		"unknown field":   `{"server":"198.18.0.1","subnet":"198.18.0.0/24","how":"search","x":1}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dhcp.servers")
			os.WriteFile(path, []byte(text), 0o644)
			got, err := LoadServers(path)
			var ce *CorruptError
			if got != nil || !errors.As(err, &ce) || ce.SavedAs != path+".corrupt" || ce.Line != 1 ||
				!strings.HasPrefix(err.Error(), "DHCP server record "+path+":1: ") {
				t.Fatalf("got %v, %v", got, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("corrupt record left in place: %v", err)
			}
		})
	}
}
