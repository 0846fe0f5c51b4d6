package config

import (
	"strings"
	"testing"
)

func TestHTTP(t *testing.T) {
	for _, tc := range []struct{ in, render, err string }{
		{"http lan", "http lan", ""},
		{"http LAN port 8080", "http lan port 8080", ""},
		{"http 127.0.0.1 ::1 port 9123", "http 127.0.0.1 ::1 port 9123", ""},
		{"http 0.0.0.0 0.0.0.0", "http 0.0.0.0", ""},
		{"http ::ffff:198.18.0.1", "http 198.18.0.1", ""},
		{"http off", "", ""},
		{"http", "", "expected"},
		{"http lan port", "", "port 1..65535"},
		{"http lan port 0", "", "port 1..65535"},
		{"http lan port 65536", "", "port 1..65535"},
		{"http port 80", "", "expected"},
		{"http lan 198.18.0.1", "", "either"},
		{"http lan off", "", "stands alone"},
		{"http fe80::1%eth0", "", "without a zone"},
		{"http www.example", "", "expected"},
	} {
		cfg, _, err := ParseBytes("t.conf", []byte(tc.in+"\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var b strings.Builder
		cfg.Render(&b)
		if tc.render == "" {
			if cfg.HTTP != nil || strings.Contains(b.String(), "\nhttp ") {
				t.Errorf("%q: HTTP %+v, render:\n%s", tc.in, cfg.HTTP, b.String())
			}
			continue
		}
		if !strings.Contains(b.String(), tc.render+" ") && !strings.Contains(b.String(), tc.render+"\n") {
			t.Errorf("%q: render lacks %q:\n%s", tc.in, tc.render, b.String())
		}
	}
	// The last line wins, as with chrony's single-valued directives.
	cfg, _, err := ParseBytes("t.conf", []byte("http lan\nhttp off\n"))
	if err != nil || cfg.HTTP != nil {
		t.Errorf("http lan then off: %+v, %v", cfg.HTTP, err)
	}
}
