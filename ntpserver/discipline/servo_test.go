package discipline

import (
	"errors"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * 1e9)) }

func TestMakeStep(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold float64
		limit     int
		control   bool
		offsets   []float64
		steps     []bool
	}{
		{"no makestep never steps", 0, 0, true, []float64{0.5, 2}, []bool{false, false}},
		{"first updates only", 0.1, 2, true, []float64{0.5, 0.01, 0.5}, []bool{true, false, false}},
		{"below threshold", 1, 3, true, []float64{0.5, -0.9}, []bool{false, false}},
		{"unlimited", 0.1, -1, true, []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, true, true, true}},
		{"no clock control", 0.1, 3, false, []float64{0.5}, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{StepThreshold: tc.threshold, StepLimit: tc.limit, Control: tc.control}, t0)
			for i, off := range tc.offsets {
				now := at(float64(i) * 64)
				a := s.Update(now, Estimate{Offset: off}, now.Add(64*time.Second))
				if got := a.Step != 0; got != tc.steps[i] {
					t.Errorf("update %d (offset %v): step %v, want step %v", i, off, a.Step, tc.steps[i])
				}
				if a.Step != 0 && a.Step.Seconds() != off {
					t.Errorf("update %d: step %v, want %v", i, a.Step, off)
				}
				if a.DOffset != off {
					t.Errorf("update %d: DOffset %v, want %v", i, a.DOffset, off)
				}
			}
		})
	}
}

func TestMaxChange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mc      MaxChange
		offsets []float64
		want    []string // "ok", "ignored", "fatal"
	}{
		{"maxchange 1000 1 2", MaxChange{1000, 1, 2}, []float64{3600, 1, 3600, 3600, 3600},
			[]string{"ok", "ok", "ignored", "ignored", "fatal"}},
		{"start delays the check", MaxChange{1, 2, 0}, []float64{5, 5, 5},
			[]string{"ok", "ok", "fatal"}},
		{"ignore -1: never gives up", MaxChange{1, 0, -1}, []float64{5, 5, 5, 0.1},
			[]string{"ignored", "ignored", "ignored", "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := tc.mc
			s := New(Config{MaxChange: &mc, Control: true}, t0)
			for i, off := range tc.offsets {
				now := at(float64(i) * 64)
				a := s.Update(now, Estimate{Offset: off}, now.Add(time.Minute))
				got := "ok"
				switch {
				case a.Fatal != nil:
					got = "fatal"
					if !errors.Is(a.Fatal, ErrGaveUp) || !errors.Is(s.Err(), ErrGaveUp) {
						t.Errorf("fatal error %v", a.Fatal)
					}
				case a.Ignored:
					got = "ignored"
				}
				if got != tc.want[i] {
					t.Errorf("update %d (offset %v): %s, want %s", i, off, got, tc.want[i])
				}
			}
		})
	}
}

// The first update, with the initial frequency unknown, takes the
// measured residual frequency almost fully; a later, less certain one
// moves it less.
func TestFrequencyBlend(t *testing.T) {
	s := New(Config{Control: true, InitialFrequency: 10}, t0)
	a := s.Update(at(0), Estimate{Freq: 5, Skew: 1}, at(64))
	if f := s.Frequency(); math.Abs(f-15) > 0.01 || math.Abs(a.DFreq-(f-10)) > 1e-12 {
		t.Errorf("after the first update: frequency %.3f (DFreq %.3f), want about 15", f, a.DFreq)
	}
	if s.Skew() > 1.01 {
		t.Errorf("skew %.3f, want about the estimate's 1 ppm", s.Skew())
	}
	before := s.Frequency()
	s.Update(at(64), Estimate{Freq: 5, Skew: 10}, at(128))
	if d := s.Frequency() - before; d <= 0 || d > 0.5 {
		t.Errorf("uncertain estimate moved the frequency by %.3f ppm", d)
	}
	before = s.Frequency()
	s.Update(at(128), Estimate{Freq: 100, Skew: 2000}, at(192))
	if s.Frequency() != before {
		t.Errorf("an estimate beyond maxupdateskew changed the frequency")
	}
}

func TestFrequencyClamped(t *testing.T) {
	s := New(Config{Control: true}, t0)
	s.Update(at(0), Estimate{Freq: 900, Skew: 1}, at(64))
	if f := s.Frequency(); f != 500 {
		t.Errorf("frequency %v, want the 500 ppm limit", f)
	}
}

// A slew removes the pending correction by the end of its duration and
// never overshoots, even when no update follows.
func TestSlewDoesNotOvershoot(t *testing.T) {
	s := New(Config{Control: true}, t0)
	a := s.Update(at(0), Estimate{Offset: 1e-3}, at(16))
	if !a.SetFreq || a.Frequency <= 0 {
		t.Fatalf("no slew: %+v", a)
	}
	// The caller's events: a poll every 16 s, then none for an hour.
	var clock float64 // what the slewing did to the system clock
	prev, applied := 0.0, a.Frequency
	for _, ev := range []float64{16, 32, 48, 64, 3600} {
		clock += applied / (1 + applied*1e-6) * 1e-6 * (ev - prev) // per second of the system clock
		next := ev + 16
		if ev == 64 {
			next = 3600
		}
		a := s.Advance(at(ev), at(next))
		if a.SetFreq {
			applied = a.Frequency
		}
		prev = ev
		if clock > 1e-3+1e-9 {
			t.Fatalf("t=%v: slewed %.9f s of a 1 ms correction", ev, clock)
		}
		if p := s.Pending(at(ev)); math.Abs(p-(1e-3-clock)) > 1e-12 {
			t.Errorf("t=%v: pending %.9f, want %.9f", ev, p, 1e-3-clock)
		}
	}
	if math.Abs(clock-1e-3) > 1e-9 {
		t.Errorf("slewed %.9f s, want 1 ms", clock)
	}
	if applied != 0 {
		t.Errorf("frequency %v after the slew, want back to 0", applied)
	}
}

// Without clock control nothing is applied: the pending correction
// accumulates the offsets and the drift the kernel is not corrected for.
func TestNoControlTracks(t *testing.T) {
	s := New(Config{Control: false, KernelFrequency: 0}, t0)
	a := s.Update(at(0), Estimate{Offset: 0.2, Freq: 50, Skew: 0.1}, at(64))
	if a.Step != 0 || a.SetFreq {
		t.Fatalf("action under -x: %+v", a)
	}
	// After 100 s the clock is 0.2 s + 50 ppm × 100 s behind its estimate.
	if p := s.Pending(at(100)); math.Abs(p-(0.2+s.Frequency()*1e-6*100)) > 1e-12 {
		t.Errorf("pending %.9f", p)
	}
	if s.Applied() != 0 {
		t.Errorf("applied %v, want the kernel's 0", s.Applied())
	}
}

// Without a fast-slewing clock a 0.4 s offset below the makestep
// threshold is slewed at 500 ppm (13 minutes); with MaxSlewRate at
// chrony's 83333 ppm it is gone by the next update, and the base
// frequency still stays within ±MaxFrequency.
func TestFastSlew(t *testing.T) {
	slow := New(Config{Control: true, StepThreshold: 1, StepLimit: 3}, t0)
	a := slow.Update(at(0), Estimate{Offset: 0.4, Freq: 900, Skew: 1}, at(8))
	if a.Step != 0 || a.Frequency != 500 {
		t.Errorf("default: %+v, want no step and the 500 ppm limit", a)
	}
	fast := New(Config{Control: true, StepThreshold: 1, StepLimit: 3, MaxSlewRate: 83333.333}, t0)
	a = fast.Update(at(0), Estimate{Offset: 0.4, Freq: 900, Skew: 1}, at(8))
	// 0.4 s in 8 s is 50000 ppm of system time; a clock that runs
	// 1+a fast gains (a-500)/(1+a) per second of its own.
	if want := (500 + 50000) / (1 - 0.05); a.Step != 0 || math.Abs(a.Frequency-want) > 1e-6 {
		t.Errorf("fast: %+v, want no step and %.3f ppm", a, want)
	}
	if f := fast.Frequency(); f != 500 {
		t.Errorf("base frequency %v, want it clamped to 500", f)
	}
	if p := fast.Pending(at(8)); math.Abs(p) > 1e-9 {
		t.Errorf("pending at the next update %v, want 0", p)
	}
	a = fast.Update(at(8), Estimate{Offset: 0.9}, at(16))
	if a.Step != 0 || a.Frequency != 83333.333 {
		t.Errorf("0.9 s in 8 s: %+v, want no step and the 83333.333 ppm limit", a)
	}
}

// StopSlew puts the clock back on the base frequency.
func TestStopSlew(t *testing.T) {
	s := New(Config{Control: true, MaxSlewRate: 83333.333}, t0)
	s.Update(at(0), Estimate{Offset: 0.4, Freq: 20, Skew: 1}, at(8))
	if s.Applied() < 1000 {
		t.Fatalf("no fast slew: applied %v", s.Applied())
	}
	a := s.StopSlew(at(2))
	if !a.SetFreq || a.Frequency != s.Frequency() || s.Applied() != s.Frequency() {
		t.Errorf("StopSlew: %+v, applied %v, base %v", a, s.Applied(), s.Frequency())
	}
}

// Pending at a time before the last re-plan uses the rate that was in
// effect then: a packet received at t4 and handled after a re-plan is
// measured against the clock as it really ran.
func TestPendingBeforeReplan(t *testing.T) {
	s := New(Config{Control: true, MaxSlewRate: 83333.333}, t0)
	s.Update(at(10), Estimate{Offset: 0.5}, at(20))
	r1 := (s.Frequency() - s.Applied()) / (1 + s.Applied()*1e-6)
	p10 := s.Pending(at(10))
	want := p10 + r1*1e-6*1.5
	s.Advance(at(12), at(20)) // re-plan: a new rate from t = 12
	if got := s.Pending(at(11.5)); math.Abs(got-want) > 1e-12 {
		t.Errorf("Pending(11.5) after a re-plan at 12 = %v, want %v (the rate before the re-plan)", got, want)
	}
	// A decision about a past time takes effect at the last change, not
	// before it: the servo never rewinds.
	before := s.Pending(at(12))
	s.Advance(at(11), at(20))
	if got := s.Pending(at(12)); math.Abs(got-before) > 1e-12 {
		t.Errorf("Advance to a past time changed Pending(12) from %v to %v", before, got)
	}
}

// After an update, Pending at a time before it is in the new frame, as
// the caller re-expresses its stored measurements: shifted by the offset
// and, away from the update, by the frequency change.
func TestPendingBeforeUpdateIsInNewFrame(t *testing.T) {
	s := New(Config{Control: false, KernelFrequency: -7.5, InitialFrequency: -7.5}, t0)
	s.Update(at(10), Estimate{Offset: 1e-5, Freq: 0.2, Skew: 0.1}, at(12))
	for i := 11; i < 20; i++ {
		s.Advance(at(float64(i)), at(float64(i+1)))
	}
	before := s.Pending(at(15))
	a := s.Update(at(20), Estimate{Offset: 2e-5, Freq: 0.1, Skew: 0.1}, at(22))
	want := before + a.DOffset + a.DFreq*1e-6*(15-20)
	if got := s.Pending(at(15)); math.Abs(got-want) > 1e-12 {
		t.Errorf("Pending(15) after the update at 20 = %.12f, want %.12f", got, want)
	}
}
