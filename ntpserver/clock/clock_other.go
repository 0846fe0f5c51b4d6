//go:build !linux

package clock

import (
	"errors"
	"fmt"
	"time"
)

// System returns the system clock. Outside Linux ntpbox can read it but
// not steer it: Step, SetFrequency and SetStatus fail with
// errors.ErrUnsupported.
func System() Clock { return otherClock{} }

type otherClock struct{}

func (otherClock) Now() time.Time { return time.Now().Round(0) }

func (otherClock) Step(time.Duration) error { return unsupported("step") }

func (otherClock) SetFrequency(float64) error { return unsupported("set frequency") }

func (otherClock) Frequency() (float64, error) { return 0, unsupported("read frequency") }

func (otherClock) SetStatus(Status) error { return unsupported("set status") }

func unsupported(op string) error {
	return fmt.Errorf("clock %s: %w", op, errors.ErrUnsupported)
}
