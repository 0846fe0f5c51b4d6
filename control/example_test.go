package control_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// daemon is what `ntpbox serve` provides; here, fixed reports.
type daemon struct{}

func (daemon) Sources() []upstream.SourceReport {
	return []upstream.SourceReport{{
		Name: "ntp1.example.net", Mode: "^", State: "*", Stratum: 2, Poll: 6, Reach: 0o377, LastRx: 23 * time.Second,
		NP: 11, NR: 5, Span: 46 * time.Minute, Frequency: -0.001, FreqSkew: 0.045, Offset: 1200, StdDev: 25 * time.Microsecond,
	}}
}
func (daemon) Tracking() upstream.TrackingReport { return upstream.TrackingReport{} }
func (daemon) Clients() []control.ClientReport {
	return []control.ClientReport{{Addr: netip.MustParseAddr("192.168.1.20"), NTP: 1234, Interval: 6, LastAgo: 23 * time.Second}}
}

// The daemon serves its reports on the control socket; `ntpbox
// sourcestats` and `ntpbox clients` ask for them and print them as
// chronyc does.
func Example() {
	dir, _ := os.MkdirTemp("", "ntpbox")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ntpbox.sock") // in ntpbox: control.SocketPath(cfg)

	ln, err := control.Listen(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go control.Serve(ln, daemon{}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var sources []upstream.SourceReport
	if err := control.Request(ctx, path, control.CmdSourceStats, &sources); err != nil {
		fmt.Println(err)
		return
	}
	control.FormatSourceStats(os.Stdout, sources, false)
	var clients []control.ClientReport
	if err := control.Request(ctx, path, control.CmdClients, &clients); err != nil {
		fmt.Println(err)
		return
	}
	control.FormatClients(os.Stdout, clients)
	// Output:
	// Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev
	// ==============================================================================
	// ntp1.example.net           11   5   46m     -0.001      0.045  +1200ns    25us
	// Hostname                      NTP   Drop Int IntL Last     Cmd   Drop Int  Last
	// ===============================================================================
	// 192.168.1.20                 1234      0   6   -    23       0      0   -     -
}
