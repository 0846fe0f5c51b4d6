package clocktest_test

import (
	"fmt"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/ntpserver/clocktest"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
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

// Two boxes on a LAN: the first polls a stratum-1 server, the second
// polls the first, which answers with the state its engine serves.
func ExampleNet() {
	world := clocktest.NewWorld(clocktest.Start, 7)
	lan := clocktest.NewNet(world)
	line := config.Source{IBurst: true, MinPoll: 4, MaxPoll: 6}
	var boxes []*clocktest.Box
	for i, addr := range []string{"198.18.0.11", "198.18.0.12"} {
		clk := world.NewClock(clocktest.ClockConfig{Offset: time.Duration(i+1) * time.Millisecond, FreqErr: float64(20 - 40*i), Wander: 0.001})
		eng := upstream.NewEngine(upstream.Config{ClockControl: true, Precision: -24, Serving: true}, clk, nil)
		boxes = append(boxes, lan.AddBox(addr, clk, eng))
	}
	boxes[0].AddServer(clocktest.NewServer("198.18.0.1:123"), clocktest.LAN, line)
	boxes[1].AddBox(boxes[0], clocktest.LAN, line)
	lan.Run(time.Hour)
	for _, b := range boxes {
		st := b.Engine.SyncState()
		fmt.Printf("%s: stratum %d, refid %s\n", b.Addr, st.Stratum, wire.RefIDString(st.Stratum, st.RefID))
	}
	fmt.Println("within 100 µs of each other:", (boxes[0].Clock.Error()-boxes[1].Clock.Error()).Abs() < 100*time.Microsecond)
	// Output:
	// 198.18.0.11: stratum 2, refid 198.18.0.1
	// 198.18.0.12: stratum 3, refid 198.18.0.11
	// within 100 µs of each other: true
}
