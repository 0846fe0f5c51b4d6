package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// applianceParts are the layers of a typical appliance: the defaults, the
// admin's file and a kernel command line.
func applianceParts(t *testing.T, perm, cmdline string) []Part {
	t.Helper()
	kernel, errs := CmdlinePart(LayerKernel, "kernel command line", SplitCmdline(cmdline))
	if len(errs) > 0 {
		t.Fatalf("CmdlinePart: %v", errs)
	}
	return []Part{ApplianceDefaults("/perm/ntpbox.drift"), FilePart(LayerPerm, "/perm/ntpbox.conf", []byte(perm)), kernel}
}

func TestMergeLayers(t *testing.T) {
	parts := applianceParts(t, `address 198.18.0.2/24   # the box
gateway 198.18.0.1
server 198.18.0.1 iburst
local stratum 10 orphan
makestep 1 3
`, "console=ttyS0 ntpbox.server=198.18.0.3,iburst ntpbox.local=stratum,12 ntpbox.testkill=1")
	cfg, warns, err := Merge(nil, nil, parts...)
	if err != nil || len(warns) > 0 {
		t.Fatalf("Merge: %v %v", err, warns)
	}
	// The file's static address replaced the default `address dhcp`.
	if cfg.Network.DHCP || len(cfg.Network.Addresses) != 1 || cfg.Network.Addresses[0] != netip.MustParsePrefix("198.18.0.2/24") {
		t.Errorf("network %+v", cfg.Network)
	}
	// The command line's server adds to the file's; its local replaces the file's.
	if len(cfg.Sources) != 2 || cfg.Sources[1].Host != "198.18.0.3" || cfg.Sources[1].Origin.Layer != LayerKernel {
		t.Errorf("sources %+v", cfg.Sources)
	}
	if cfg.Local == nil || cfg.Local.Stratum != 12 || cfg.Local.Orphan {
		t.Errorf("local %+v", cfg.Local)
	}
	for key, want := range map[string]string{
		"address 198.18.0.2/24": "/perm/ntpbox.conf:1",
		"local":                 "kernel command line (ntpbox.local=stratum,12)",
		"makestep":              "/perm/ntpbox.conf:5",
		"driftfile":             "default (on the persistent partition)",
	} {
		if got := cfg.Origins[key].String(); got != want {
			t.Errorf("origin of %s = %q, want %q", key, got, want)
		}
	}
	if !cfg.Access[0].Connected || !cfg.Access[0].Allow || cfg.Access[0].Origin.Layer != LayerDefault {
		t.Errorf("access %+v: want the appliance's allow connected first", cfg.Access)
	}
}

func TestMergeNetworkGroupReplaced(t *testing.T) {
	// An address alone replaces the old address's gateway and resolvers:
	// the lease's then apply.
	parts := applianceParts(t, "address 198.18.0.2/24\ngateway 198.18.0.1\nnameserver 198.18.0.53\nhostname clock1\n", "ntpbox.address=dhcp")
	cfg, _, err := Merge(nil, nil, parts...)
	if err != nil {
		t.Fatal(err)
	}
	if n := cfg.Network; !n.DHCP || n.Gateway.IsValid() || len(n.Nameservers) != 0 || n.Hostname != "clock1" {
		t.Errorf("network %+v: want dhcp, no gateway or nameserver, the file's hostname", n)
	}
	if _, ok := cfg.Origins["gateway"]; ok {
		t.Errorf("a replaced gateway keeps its origin: %v", cfg.Origins)
	}
	parts = applianceParts(t, "address 198.18.0.2/24\nnameserver 198.18.0.53\nnameserver 198.18.0.54\n",
		"ntpbox.address=dhcp ntpbox.nameserver=198.18.0.55")
	cfg, _, err = Merge(nil, nil, parts...)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Network
	if !n.DHCP || len(n.Addresses) != 0 || len(n.Nameservers) != 1 || n.Nameservers[0] != netip.MustParseAddr("198.18.0.55") {
		t.Errorf("network %+v: want the command line's address dhcp and nameserver only", n)
	}
	if _, ok := cfg.Origins["nameserver 198.18.0.53"]; ok {
		t.Errorf("a replaced nameserver keeps its origin: %v", cfg.Origins)
	}
}

func TestMergeLease(t *testing.T) {
	lease := &Lease{
		Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/24"), Router: netip.MustParseAddr("198.18.0.1"),
		DNS:    []netip.Addr{netip.MustParseAddr("198.18.0.53")},
		NTP:    []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.3")},
		Server: netip.MustParseAddr("198.18.0.1"), Obtained: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Duration: 2 * time.Minute,
	}
	parts := applianceParts(t, "server 198.18.0.1 iburst\n", "")
	cfg, _, err := Merge(nil, lease, parts...)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[1].Host != "198.18.0.3" || !cfg.Sources[1].IBurst ||
		cfg.Sources[1].Origin.String() != "DHCP lease (option 42 from 198.18.0.1)" {
		t.Errorf("sources %+v: want the file's and option 42's other server", cfg.Sources)
	}
	if got := cfg.Addresses(); len(got) != 1 || got[0] != lease.Address {
		t.Errorf("Addresses() = %v", got)
	}
	if cfg.Router() != lease.Router || !reflect.DeepEqual(cfg.Resolvers(), lease.DNS) {
		t.Errorf("router %v resolvers %v: want the lease's", cfg.Router(), cfg.Resolvers())
	}
	// A configured nameserver wins over the lease's.
	parts = applianceParts(t, "nameserver 198.18.0.9\n", "")
	cfg, _, _ = Merge(nil, lease, parts...)
	if got := cfg.Resolvers(); len(got) != 1 || got[0] != netip.MustParseAddr("198.18.0.9") {
		t.Errorf("Resolvers() = %v, want the config's", got)
	}
}

func TestMergeErrorsNameTheirLayer(t *testing.T) {
	parts := applianceParts(t, "server 198.18.0.1 iburst\nallow 198.18.0.0/33\n", "ntpbox.local=stratum,99")
	_, _, err := Merge(nil, nil, parts...)
	if err == nil {
		t.Fatal("no error")
	}
	bad := BadLayers(err)
	if !bad[LayerPerm] || !bad[LayerKernel] || bad[LayerDefault] {
		t.Errorf("BadLayers = %v", bad)
	}
	for _, want := range []string{"/perm/ntpbox.conf:2: allow:", "kernel command line (ntpbox.local=stratum,99): local:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Without the bad lines, the rest merges.
	cfg, _, err := Merge(nil, nil, parts[0], parts[1].Without(err), parts[2].Without(err))
	if err != nil || len(cfg.Sources) != 1 || cfg.Local != nil {
		t.Errorf("merged without the bad lines: %+v, %v", cfg, err)
	}
}

func TestCmdlinePart(t *testing.T) {
	part, errs := CmdlinePart(LayerCmdlineTxt, "/perm/cmdline.txt",
		SplitCmdline(`quiet ntpbox.allow=all "ntpbox.server=198.18.0.1 iburst" ntpbox.rtcsync ntpbox.testpanic=boot ntpbox.=x ntpbox.a.b=c`))
	var got []string
	for _, l := range part.Lines {
		got = append(got, strings.Join(l.Words, " "))
	}
	if want := []string{"allow all", "server 198.18.0.1 iburst", "rtcsync"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if len(errs) != 2 {
		t.Errorf("errors %v: want ntpbox.= and ntpbox.a.b=", errs)
	}
	if o := part.Lines[1].Origin; o.Layer != LayerCmdlineTxt || o.Line != 3 || o.Note != "ntpbox.server=198.18.0.1 iburst" {
		t.Errorf("origin %+v", o)
	}
}

// TestConfigJSONRoundTrip: the merged config crosses from init to the
// service as JSON, typed, and arrives unchanged.
func TestConfigJSONRoundTrip(t *testing.T) {
	lease := &Lease{Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/24"), Server: netip.MustParseAddr("198.18.0.1"),
		NTP: []netip.Addr{netip.MustParseAddr("198.18.0.3")}, Obtained: time.Unix(1796000000, 0).UTC(), Duration: time.Hour}
	parts := applianceParts(t, `server a.example iburst minpoll 0 maxpoll 2 copy
pool pool.example maxsources 2
allow 198.18.0.0/16
deny all 198.18.1.0/24
local stratum 10 orphan distance 0.5 waitunsynced 30
makestep 1 3
maxchange 1000 1 2
ratelimit interval 2 burst 4
bindaddress 198.18.0.2
advertise 198.18.0.2 198.18.0.3
dhcp server 198.18.0.100 198.18.0.150 lease 10m router 198.18.0.1 dns 198.18.0.1
dhcp6 inform name ntp.lab.test
dns zone lab.test
hostname box1
`, "ntpbox.rtcsync")
	cfg, _, err := Merge(nil, lease, parts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, &back) {
		t.Errorf("JSON round trip changed the config:\n%s\n got  %+v\n want %+v", b, back, *cfg)
	}
}

// TestRenderGolden: `ntpbox config` of a box with a lease.
func TestRenderGolden(t *testing.T) {
	lease := &Lease{Interface: "eth0", Address: netip.MustParsePrefix("198.18.0.50/24"), Router: netip.MustParseAddr("198.18.0.1"),
		DNS: []netip.Addr{netip.MustParseAddr("198.18.0.1")}, NTP: []netip.Addr{netip.MustParseAddr("198.18.0.3")},
		Server: netip.MustParseAddr("198.18.0.1"), Obtained: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC), Duration: 2 * time.Minute}
	baked := `address dhcp
dhcp auto
pool pool.ntp.org iburst
makestep 1 3
rtcsync
local stratum 10 orphan
`
	kernel, _ := CmdlinePart(LayerKernel, "kernel command line", SplitCmdline("ntpbox.server=198.18.0.1,iburst,minpoll,0,maxpoll,2"))
	cfg, _, err := Merge(nil, lease, ApplianceDefaults("/perm/ntpbox.drift"), FilePart(LayerBaked, "/etc/ntpbox.conf", []byte(baked)), kernel)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cfg.Render(&buf); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/render.golden"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("Render:\n%s\nwant (%s; go test -run RenderGolden -update ./config rewrites it):\n%s", buf.Bytes(), golden, want)
	}
	if _, _, err := ParseBytes("rendered", buf.Bytes()); err != nil {
		t.Errorf("the rendered config does not parse: %v", err)
	}
}

func TestLayerText(t *testing.T) {
	for l := LayerDefault; l <= LayerCmdlineTxt; l++ {
		b, _ := l.MarshalText()
		var back Layer
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%v: round trip %v %v", l, back, err)
		}
	}
	var l Layer
	if err := l.UnmarshalText([]byte("nope")); err == nil || errors.Is(err, nil) {
		t.Error("unknown layer accepted")
	}
}
