package appliance

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/netstate"
)

// The cable is pulled before the kernel ever reported its carrier (it
// reports a carrier up to a second late): the lease already proves the
// link worked, so the cable coming back makes the DHCP client check the
// lease, as it does after any unplug.
func TestLinkUpAfterLeaseWithoutCarrierSeen(t *testing.T) {
	in := &Init{Log: slog.New(slog.DiscardHandler)}
	cfg := &config.Config{}
	cfg.Network.DHCP = true
	nw := &network{in: in, cfg: cfg, linkUp: make(chan struct{}, 1), link: netstate.Link{Name: "eth0"}}
	in.Net = newFakeNet(newFakeSystem(""))
	state := func(carrier bool) netstate.State {
		return netstate.State{Links: []netstate.Link{{Name: "eth0", Up: true, Carrier: carrier}}}
	}
	down := state(false)
	nw.followLinks(netstate.State{}, down)
	lease := &config.Lease{Address: netip.MustParsePrefix("198.18.0.150/24"), Duration: time.Hour}
	nw.applyLease(LeaseEvent{Lease: lease})
	nw.followLinks(down, state(true))
	select {
	case <-nw.linkUp:
	default:
		t.Fatal("the link came up after a lease and the DHCP client was not told")
	}

	// Before any lease, the first carrier is the boot's, not a cable
	// coming back.
	nw2 := &network{in: in, cfg: cfg, linkUp: make(chan struct{}, 1), link: netstate.Link{Name: "eth0"}}
	nw2.followLinks(down, state(true))
	select {
	case <-nw2.linkUp:
		t.Fatal("the boot's first carrier was taken for a cable coming back")
	default:
	}
}
