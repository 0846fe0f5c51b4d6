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
