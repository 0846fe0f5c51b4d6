package upstream_test

import (
	"fmt"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// An engine disciplines a simulated clock, 300 ms ahead and 40 ppm fast,
// from three LAN servers, one of which is 50 ms off. After an hour of
// simulated time (a few milliseconds of real time) the clock is within a
// millisecond, the box serves stratum 2, and the bad server is marked as
// a falseticker.
func Example() {
	world := clocktest.NewWorld(clocktest.Start, 1)
	clk := world.NewClock(clocktest.ClockConfig{Offset: 300 * time.Millisecond, FreqErr: 40})
	eng := upstream.NewEngine(upstream.Config{
		MakeStep:     &config.MakeStep{Threshold: 0.1, Limit: 3},
		ClockControl: true,
		Precision:    -24,
	}, clk, nil)

	sim := clocktest.NewSim(world, clk, eng)
	line := config.Source{IBurst: true, MinPoll: 6, MaxPoll: 10, Port: 123}
	for _, addr := range []string{"198.18.0.1:123", "198.18.0.2:123", "198.18.0.3:123"} {
		srv := clocktest.NewServer(addr)
		if addr == "198.18.0.3:123" {
			srv.Offset = clocktest.Constant(50 * time.Millisecond)
		}
		sim.AddServer(srv, clocktest.LAN, line)
	}
	sim.Run(time.Hour)

	st := eng.SyncState()
	fmt.Println("stratum:", st.Stratum, "leap:", st.Leap)
	fmt.Println("within 1 ms:", clk.Error().Abs() < time.Millisecond)
	for _, r := range eng.Sources() {
		fmt.Printf("%s%s %s reach %o\n", r.Mode, r.State, r.Name, r.Reach)
	}
	// Output:
	// stratum: 2 leap: none
	// within 1 ms: true
	// ^+ 198.18.0.1 reach 377
	// ^* 198.18.0.2 reach 377
	// ^x 198.18.0.3 reach 377
}
