package dhcpopt

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestSnippetGolden(t *testing.T) {
	servers := []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
	for _, kind := range SnippetKinds {
		t.Run(kind, func(t *testing.T) {
			got, err := Snippet(kind, servers)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "snippet", kind+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("snippet differs from %s:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestSnippetErrors(t *testing.T) {
	v4 := []netip.Addr{netip.MustParseAddr("198.18.0.2")}
	for _, tc := range []struct {
		kind    string
		servers []netip.Addr
		wantErr string
	}{
		{"dnsmasq", nil, "no NTP servers"},
		{"dnsmasq", []netip.Addr{netip.MustParseAddr("2001:db8::1")}, "not IPv4"},
		{"bind", v4, `unknown kind "bind"`},
	} {
		if _, err := Snippet(tc.kind, tc.servers); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Snippet(%q, %v): %v, want %q", tc.kind, tc.servers, err, tc.wantErr)
		}
	}
}
