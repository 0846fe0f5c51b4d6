//go:build linux

package clock

import (
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
	if f < -MaxFrequency || f > MaxFrequency {
		t.Errorf("Frequency() = %v ppm, outside ±%v", f, MaxFrequency)
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

func TestFrequencyTimex(t *testing.T) {
	for _, tc := range []struct {
		ppm  float64
		want int64
	}{
		{1, 65536}, {-12.5, -819200}, {600, 500 * 65536}, {-600, -500 * 65536},
	} {
		tx := frequencyTimex(tc.ppm)
		if tx.Modes != unix.ADJ_FREQUENCY || int64(tx.Freq) != tc.want {
			t.Errorf("frequencyTimex(%v) = modes %#x freq %d, want freq %d", tc.ppm, tx.Modes, tx.Freq, tc.want)
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
