//go:build linux

package clock

import (
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests only read the host's clock. Writing is exercised inside
// QEMU guests: never call Step, SetFrequency or SetStatus here.

func TestSystemNow(t *testing.T) {
	c := System()
	before := time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
		t.Fatalf("Now() = %v, want between %v and %v", got, before, after)
	}
	if got != got.Round(0) {
		t.Errorf("Now() carries a monotonic reading; steps would be invisible in differences")
	}
}

func TestSystemFrequencyReadOnly(t *testing.T) {
	f, err := System().Frequency() // clock_adjtime with modes 0
	if err != nil {
		t.Skipf("clock_adjtime read: %v", err)
	}
	if f < -MaxSlewRate || f > MaxSlewRate {
		t.Errorf("Frequency() = %v ppm, outside ±%v", f, MaxSlewRate)
	}
}

func TestStepTimex(t *testing.T) {
	for _, tc := range []struct {
		name      string
		d         time.Duration
		sec, nsec int64
	}{
		{"forward", 1500 * time.Millisecond, 1, 500_000_000},
		{"backward", -1500 * time.Millisecond, -2, 500_000_000},
		{"small backward", -1, -1, 999_999_999},
		{"hour", time.Hour, 3600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := stepTimex(tc.d)
			if tx.Modes != unix.ADJ_SETOFFSET|unix.ADJ_NANO {
				t.Errorf("modes %#x", tx.Modes)
			}
			if int64(tx.Time.Sec) != tc.sec || int64(tx.Time.Usec) != tc.nsec {
				t.Errorf("time = %d s %d ns, want %d s %d ns", tx.Time.Sec, tx.Time.Usec, tc.sec, tc.nsec)
			}
		})
	}
}

// Corrections beyond ±50 ppm go into the tick (100 ppm per µs of a
// 10000 µs tick), the rest into the frequency; the read-back is the sum.
func TestFrequencyTimex(t *testing.T) {
	for _, tc := range []struct {
		ppm        float64
		tick, freq int64
	}{
		{1, 10000, 65536},
		{-12.5, 10000, -819200},
		{49.5, 10000, 49.5 * 65536},
		{51, 10001, -49 * 65536},
		{600, 10006, 0},
		{-600, 9994, 0},
		{-1234.5, 9988, -34.5 * 65536},
		{50000, 10500, 0},
		{1e6, 10833, int64(math.Round((MaxSlewRate - 83300) * 65536))},
		{-1e6, 9167, -int64(math.Round((MaxSlewRate - 83300) * 65536))},
	} {
		tx := frequencyTimex(tc.ppm)
		if tx.Modes != unix.ADJ_FREQUENCY|unix.ADJ_TICK || int64(tx.Tick) != tc.tick || math.Abs(float64(int64(tx.Freq)-tc.freq)) > 1 {
			t.Errorf("frequencyTimex(%v) = modes %#x tick %d freq %d, want tick %d freq %d", tc.ppm, tx.Modes, tx.Tick, tx.Freq, tc.tick, tc.freq)
		}
		want := min(max(tc.ppm, -MaxSlewRate), MaxSlewRate)
		if got := timexFrequency(tx); math.Abs(got-want) > 1e-4 {
			t.Errorf("timexFrequency(frequencyTimex(%v)) = %v", tc.ppm, got)
		}
	}
}

func TestStatusTimex(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Status
		want int32
	}{
		{"unsynced", Status{}, unix.STA_UNSYNC},
		{"synced", Status{Synced: true}, 0},
		{"insert", Status{Synced: true, Leap: LeapInsert}, unix.STA_INS},
		{"delete unsynced", Status{Leap: LeapDelete}, unix.STA_UNSYNC | unix.STA_DEL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := statusTimex(tc.s)
			if tx.Status != tc.want {
				t.Errorf("status %#x, want %#x", tx.Status, tc.want)
			}
		})
	}
	tx := statusTimex(Status{MaxError: time.Hour, EstError: 250 * time.Microsecond})
	if tx.Maxerror != 16_000_000 || tx.Esterror != 250 {
		t.Errorf("maxerror %d esterror %d µs", tx.Maxerror, tx.Esterror)
	}
}
