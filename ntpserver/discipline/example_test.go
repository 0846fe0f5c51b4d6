package discipline_test

import (
	"fmt"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/discipline"
)

// A servo with `makestep 0.1 3` gets three estimates 64 s apart: the
// first, half a second, is stepped; the others are slewed by a temporary
// frequency offset on top of the learned frequency.
func Example() {
	start := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	s := discipline.New(discipline.Config{StepThreshold: 0.1, StepLimit: 3, Control: true}, start)
	for i, e := range []discipline.Estimate{
		{Offset: 0.5, Freq: 12, Skew: 3},
		{Offset: 200e-6, Freq: 0.4, Skew: 0.5},
		{Offset: -30e-6, Freq: -0.05, Skew: 0.1},
	} {
		now := start.Add(time.Duration(i) * 64 * time.Second)
		a := s.Update(now, e, now.Add(64*time.Second))
		fmt.Printf("step %v, frequency %.2f ppm (base %.2f)\n", a.Step, a.Frequency, s.Frequency())
	}
	// Output:
	// step 500ms, frequency 12.00 ppm (base 12.00)
	// step 0s, frequency 15.52 ppm (base 12.40)
	// step 0s, frequency 11.88 ppm (base 12.35)
}
