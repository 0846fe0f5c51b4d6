package appliance

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseOverlay(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline string
		want          Overlay
		errs          []string // substrings, one per error
	}{
		{"the test line", "console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.allow=all ntpbox.local=stratum,3", Overlay{
			Net:   Network{Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}},
			Lines: []string{"allow all", "local stratum 3"},
		}, nil},
		{"comma for space, repeated keys add lines", "ntpbox.server=198.18.0.1,iburst ntpbox.server=198.18.0.3,iburst,minpoll,4 ntpbox.allow=198.18.0.0/24", Overlay{
			Lines: []string{"server 198.18.0.1 iburst", "server 198.18.0.3 iburst minpoll 4", "allow 198.18.0.0/24"},
		}, nil},
		{"network", "ntpbox.interface=eth1 ntpbox.address=198.18.0.2/24 ntpbox.address=2001:db8::2/64 ntpbox.gateway=198.18.0.1 ntpbox.nameserver=198.18.0.53 ntpbox.nameserver=198.18.0.54", Overlay{
			Net: Network{
				Interface:   "eth1",
				Addresses:   []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("2001:db8::2/64")},
				Gateway:     netip.MustParseAddr("198.18.0.1"),
				Nameservers: []netip.Addr{netip.MustParseAddr("198.18.0.53"), netip.MustParseAddr("198.18.0.54")},
			},
		}, nil},
		{"directive without value, case folded", "ntpbox.RTCSync ntpbox.noclientlog=", Overlay{Lines: []string{"rtcsync", "noclientlog"}}, nil},
		{"other parameters ignored", "ntpboxx=1 ntp.server=x root=/dev/sda", Overlay{}, nil},
		{"testkill", "ntpbox.testkill=1", Overlay{TestKill: true}, nil},
		{"bad values are errors, the rest applies", "ntpbox.address=198.18.0.2 ntpbox.gateway=nope ntpbox.=x ntpbox.a.b=1 ntpbox.allow=all", Overlay{
			Lines: []string{"allow all"},
		}, []string{`"ntpbox.address=198.18.0.2"`, `"ntpbox.gateway=nope"`, `"ntpbox.=x"`, `"ntpbox.a.b=1"`}},
		{"a quoted newline cannot start a new config line", "\"ntpbox.allow=all\nlocal stratum 1\"", Overlay{},
			[]string{"control character"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := ParseOverlay(SplitCmdline(tc.cmdline))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("overlay = %+v\nwant      %+v", got, tc.want)
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %v, want %d", errs, len(tc.errs))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tc.errs[i]) {
					t.Errorf("error %q does not name %s", e, tc.errs[i])
				}
			}
		})
	}
}

func TestNetworkFiles(t *testing.T) {
	ov, _ := ParseOverlay(SplitCmdline("ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.nameserver=198.18.0.53"))
	if got, want := ov.Net.Format(), "# network settings from the kernel command line (ntpbox.*); init applies them\n"+
		"address 198.18.0.2/24\ngateway 198.18.0.1\nnameserver 198.18.0.53\n"; got != want {
		t.Errorf("Format:\n%s\nwant\n%s", got, want)
	}
	if got := string(ov.Net.ResolvConf()); got != "nameserver 198.18.0.53\n" {
		t.Errorf("ResolvConf = %q", got)
	}
	if (Network{}).ResolvConf() != nil {
		t.Error("ResolvConf without nameservers is not nil")
	}
}
