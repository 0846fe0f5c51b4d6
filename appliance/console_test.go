package appliance

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

func TestConsoleNames(t *testing.T) {
	procConsoles := `tty0                 -WU (E  p  )    4:7
ttyS0                -W- (EC p a)    4:64
netcon0              -W- (E     )    0:0
`
	if got, want := consoleNames(strings.NewReader(procConsoles)), []string{"tty0", "ttyS0", "netcon0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("consoleNames = %q, want %q", got, want)
	}
	if got := consoleNames(strings.NewReader("../etc/x -W- (E) 1:1\nttyS1 --- (E) 4:65\n")); len(got) != 0 {
		t.Errorf("consoleNames took %q", got)
	}
}

func TestBanner(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 1, 0, 0, time.UTC)
	lease := &config.Lease{Server: netip.MustParseAddr("198.18.0.1"), Obtained: now.Add(-time.Minute), Duration: 2 * time.Minute}
	b := banner(bannerInfo{
		Hostname: "ntpbox-abcdef", Link: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.50/24")}, Lease: lease,
		Port: 123, Sync: "synchronised to 198.18.0.1, stratum 3",
		Problems: []string{"/perm/ntpbox.conf is invalid:\n/perm/ntpbox.conf:4: allow: bad"},
	}, now)
	for _, want := range []string{
		"ntpbox: ntpbox-abcdef at 198.18.0.50/24 on eth0 (DHCP lease from 198.18.0.1, 1m0s left)\n",
		"ntpbox: NTP on UDP 123; time: synchronised to 198.18.0.1, stratum 3\n",
		"ntpbox: check it from the LAN: ntpdate -q 198.18.0.50   or   ntpdig 198.18.0.50\n",
		"ntpbox: CONFIG PROBLEM: /perm/ntpbox.conf is invalid:\nntpbox:   /perm/ntpbox.conf:4: allow: bad\n",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(b, "\n"), "\n") {
		if !strings.HasPrefix(l, "ntpbox: ") {
			t.Errorf("banner line %q does not start with ntpbox:", l)
		}
	}
	if b := banner(bannerInfo{Hostname: "ntpbox", Link: "eth0", DHCP: true, Port: 123, Sync: "starting"}, now); !strings.Contains(b, "no address yet, asking DHCP") || strings.Contains(b, "ntpdate") {
		t.Errorf("banner without an address:\n%s", b)
	}
}
