package clocktest_test

import (
	"fmt"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// A day of a box with two LAN servers, observed every minute, runs in a
// few milliseconds.
func Example() {
	world := clocktest.NewWorld(clocktest.Start, 7)
	clk := world.NewClock(clocktest.ClockConfig{Offset: 2 * time.Millisecond, FreqErr: -35, Wander: 0.001})
	eng := upstream.NewEngine(upstream.Config{ClockControl: true, Precision: -24}, clk, nil)
	sim := clocktest.NewSim(world, clk, eng)
	for _, addr := range []string{"198.18.0.1:123", "198.18.0.2:123"} {
		sim.AddServer(clocktest.NewServer(addr), clocktest.LAN, config.Source{IBurst: true, MinPoll: 6, MaxPoll: 10})
	}
	sim.Run(time.Hour) // settle
	var st clocktest.Stats
	sim.Every = time.Minute
	sim.Observe = func(s *clocktest.Sim) { st.Add(s.Clock.ErrorSeconds()) }
	sim.Run(23 * time.Hour)
	fmt.Println("observations:", st.N)
	fmt.Println("RMS below 100 µs:", st.RMS() < 100e-6)
	// Output:
	// observations: 1380
	// RMS below 100 µs: true
}
