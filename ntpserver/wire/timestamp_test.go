package wire

import (
	"testing"
	"time"
)

func TestTimeToNTPKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		want Time64
	}{
		{"unix epoch", time.Unix(0, 0), Time64(ntpEpochOffset) << 32},
		{"half second", time.Unix(0, 5e8), Time64(ntpEpochOffset)<<32 | 0x80000000},
		{"last second of era 0", time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC), Time64(0xffffffff) << 32},
		{"first second of era 1", time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), 0},
		{"era 1 plus a day", time.Date(2036, 2, 8, 6, 28, 16, 0, time.UTC), Time64(86400) << 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TimeToNTP(tc.t); got != tc.want {
				t.Errorf("TimeToNTP(%v) = %#x, want %#x", tc.t, uint64(got), uint64(tc.want))
			}
		})
	}
}

func TestTimeEraRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		t     time.Time
		pivot time.Time
	}{
		{"today", time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"just before rollover, pivot after", time.Date(2036, 2, 7, 6, 28, 15, 5e8, time.UTC), time.Date(2036, 2, 7, 6, 28, 20, 0, time.UTC)},
		{"just after rollover, pivot before", time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC), time.Date(2036, 2, 7, 6, 28, 10, 0, time.UTC)},
		{"2040 from 2030", time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"1990 from 2030", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2100 from 2099", time.Date(2100, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TimeToNTP(tc.t).Time(tc.pivot)
			if d := got.Sub(tc.t); d < -time.Nanosecond || d > time.Nanosecond {
				t.Errorf("round trip of %v via pivot %v = %v (off by %v)", tc.t, tc.pivot, got, d)
			}
		})
	}
}

func TestSubAcrossRollover(t *testing.T) {
	before := TimeToNTP(time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC))
	after := TimeToNTP(time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC))
	if d := after.Sub(before); d != 2*time.Second {
		t.Errorf("after-before = %v, want 2s", d)
	}
	if d := before.Sub(after); d != -2*time.Second {
		t.Errorf("before-after = %v, want -2s", d)
	}
	if got := before.Add(2 * time.Second); got != after {
		t.Errorf("Add across rollover = %#x, want %#x", uint64(got), uint64(after))
	}
}

func TestShort(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want Short
	}{
		{0, 0}, {-time.Second, 0}, {time.Second, 0x10000}, {time.Second / 2, 0x8000},
		{70000 * time.Second, 0xffffffff},
	} {
		if got := DurationToShort(tc.d); got != tc.want {
			t.Errorf("DurationToShort(%v) = %#x, want %#x", tc.d, uint32(got), uint32(tc.want))
		}
	}
	if d := DurationToShort(1500 * time.Microsecond).Duration(); d < 1484*time.Microsecond || d > 1500*time.Microsecond {
		t.Errorf("1.5ms round trip = %v", d)
	}
}
