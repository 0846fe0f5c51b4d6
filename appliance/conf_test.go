package appliance

import (
	"net/netip"
	"testing"

	"github.com/ntpbox/ntpbox/config"
)

func TestComposeConfig(t *testing.T) {
	baked := []byte("pool pool.ntp.org iburst\nlocal stratum 10 orphan") // no final newline
	conn := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}
	got := string(ComposeConfig(baked, conn, []string{"deny all", "allow 198.18.0.10", "local stratum 12"}))
	want := `pool pool.ntp.org iburst
local stratum 10 orphan

# added by init: serve the connected subnets
allow 198.18.0.0/24

# added by init from the kernel command line (ntpbox.DIRECTIVE=ARGS)
deny all
allow 198.18.0.10
local stratum 12
`
	if got != want {
		t.Fatalf("ComposeConfig:\n%s\nwant\n%s", got, want)
	}
	// The command line's lines come last, so they win.
	cfg, _, err := config.ParseBytes("composed", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Local.Stratum != 12 || cfg.Local.Orphan {
		t.Errorf("local = %+v, want the command line's stratum 12 without orphan", *cfg.Local)
	}
	if string(FallbackConfig(baked, nil)) != string(baked)+"\n" {
		t.Errorf("FallbackConfig without subnets = %q", FallbackConfig(baked, nil))
	}
}

// The image's baked config must be valid and serve nobody but the
// connected subnets init adds.
func TestBakedConfig(t *testing.T) {
	cfg, warns, err := config.Load("../initramfs/ntpbox.conf")
	if err != nil || len(warns) > 0 {
		t.Fatalf("initramfs/ntpbox.conf: %v %v", err, warns)
	}
	if len(cfg.Access) != 0 {
		t.Errorf("baked config has access rules %v; init adds the connected subnets", cfg.Access)
	}
	if cfg.Local == nil || cfg.Local.Stratum != 10 || !cfg.Local.Orphan {
		t.Errorf("baked config's local = %+v, want stratum 10 orphan", cfg.Local)
	}
}
