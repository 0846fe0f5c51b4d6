package config

import (
	"strings"
	"testing"
)

func TestLogServer(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"logserver 198.18.0.1", "198.18.0.1:514", ""},
		{"logserver 198.18.0.1:5514", "198.18.0.1:5514", ""},
		{"logserver 2001:2::1", "[2001:2::1]:514", ""},
		{"logserver [2001:2::1]:601", "[2001:2::1]:601", ""},
		{"logserver Syslog.LAN", "syslog.lan:514", ""},
		{"logserver syslog.lan:1514", "syslog.lan:1514", ""},
		{"logserver AUTO", "auto", ""},
		{"logserver 198.18.0.1:0", "", "port 1..65535"},
		{"logserver 198.18.0.1:x", "", "port 1..65535"},
		{"logserver bad_name", "", "address or a host name"},
		{"logserver fe80::1%eth0", "", "without a zone"},
		{"logserver", "", "expected"},
		{"logserver a b", "", "expected"},
	} {
		cfg, _, err := ParseBytes("t.conf", []byte(tc.in+"\n"))
		switch {
		case tc.err == "" && (err != nil || cfg.LogServer != tc.want):
			t.Errorf("%q: %v, %v; want %q", tc.in, cfg, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.err)
		}
	}
	cfg, _, _ := ParseBytes("t.conf", []byte("logserver 198.18.0.1\n"))
	var b strings.Builder
	cfg.Render(&b)
	if !strings.Contains(b.String(), "logserver 198.18.0.1:514") {
		t.Errorf("render:\n%s", b.String())
	}
}
