package appliance

import (
	"strings"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

// FuzzCmdline: any command line splits without panicking, its ntpbox.*
// parameters never put a line break or control character into the
// config, and the composed config is either valid or rejected with
// errors, never a panic.
func FuzzCmdline(f *testing.F) {
	for _, s := range []string{
		"console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.allow=all ntpbox.local=stratum,3\n",
		`ntpbox.server="198.18.0.1 iburst" "ntpbox.allow=all" -- init args`,
		"ntpbox.gateway=198.18.0.1 ntpbox.nameserver=::1 ntpbox.interface=eth0 ntpbox.testkill",
		"ntpbox.=x ntpbox.a.b=c =d \"\" \"=\" ntpbox.x=\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params := SplitCmdline(s)
		for _, p := range params {
			if p.Key == "--" && !p.HasValue {
				t.Fatalf("%q: init's -- separator returned as a parameter", s)
			}
		}
		ov, _ := ParseOverlay(params)
		for _, l := range ov.Lines {
			if strings.ContainsFunc(l, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("%q: config line %q has a control character", s, l)
			}
		}
		conf := ComposeConfig([]byte("local stratum 10\n"), ov.Net.Connected(), ov.Lines)
		if n := strings.Count(string(conf), "\n"); n > 1+3+len(ov.Net.Addresses)+len(ov.Lines)+2 {
			t.Fatalf("%q: %d lines in the config for %d command line lines", s, n, len(ov.Lines))
		}
		config.ParseBytes("fuzz", conf)
	})
}
