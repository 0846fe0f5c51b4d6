package clock

import (
	"testing"
	"time"
)

type fixedClock struct {
	now  time.Time
	freq float64
}

func (f *fixedClock) Now() time.Time              { return f.now }
func (f *fixedClock) Step(time.Duration) error    { panic("NoControl must not step the wrapped clock") }
func (f *fixedClock) SetFrequency(float64) error  { panic("NoControl must not steer the wrapped clock") }
func (f *fixedClock) Frequency() (float64, error) { return f.freq, nil }
func (f *fixedClock) SetStatus(Status) error      { panic("NoControl must not set the kernel status") }

func TestNoControl(t *testing.T) {
	base := &fixedClock{now: time.Unix(1700000000, 0), freq: -3.5}
	n := NewNoControl(base)
	if got := n.Now(); !got.Equal(base.now) {
		t.Errorf("Now() = %v, want the wrapped clock's %v", got, base.now)
	}
	if f, _ := n.Frequency(); f != -3.5 {
		t.Errorf("initial Frequency() = %v, want the wrapped clock's -3.5", f)
	}
	n.Step(time.Second)
	n.Step(-time.Millisecond)
	n.SetFrequency(12)
	n.SetFrequency(900)
	n.SetStatus(Status{Synced: true, Leap: LeapInsert})
	if f, _ := n.Frequency(); f != MaxFrequency {
		t.Errorf("Frequency() = %v, want the clamped recorded %v", f, MaxFrequency)
	}
	if s := n.Steps(); len(s) != 2 || s[0] != time.Second || s[1] != -time.Millisecond {
		t.Errorf("Steps() = %v", s)
	}
	if st, ok := n.Status(); !ok || !st.Synced || st.Leap != LeapInsert {
		t.Errorf("Status() = %+v, %v", st, ok)
	}
	if got := n.Now(); !got.Equal(base.now) {
		t.Errorf("Now() moved to %v after recorded adjustments", got)
	}
}
