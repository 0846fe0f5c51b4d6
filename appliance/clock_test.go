package appliance

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClockFloor(t *testing.T) {
	floor := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		now  time.Time
		step bool
	}{
		{"dead RTC battery", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"epoch", time.Unix(0, 0), true},
		{"a second early", floor.Add(-time.Second), true},
		{"at the floor", floor, false},
		{"plausible", floor.Add(90 * 24 * time.Hour), false},
		{"far future is not judged", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, step := ClockFloor(tc.now, floor)
			if step != tc.step || (step && !to.Equal(floor)) {
				t.Errorf("ClockFloor(%v) = %v, %v; want step %v", tc.now, to, step, tc.step)
			}
		})
	}
	if _, err := ParseBuildTime([]byte("yesterday\n")); err == nil || !strings.Contains(err.Error(), BuildTimeFile) {
		t.Errorf("bad build time: %v", err)
	}
}

// Init steps a clock the RTC set before the build time, first thing
// after the mounts, and logs it; a plausible clock is left alone.
func TestInitClockFloor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		now      time.Time
		wantCall bool
		wantLog  string
	}{
		{"implausible", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), true,
			`msg="system clock was before the image's build time: stepped to it" from=2001-01-01T00:00:00Z to=2026-11-26T03:00:00Z`},
		{"plausible", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), false,
			`msg="system clock is plausible" clock=2026-12-01T00:00:00Z floor=2026-11-26T03:00:00Z`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := newFakeSystem("console=ttyS0")
			sys.files[BuildTimeFile] = []byte("2026-11-26T03:00:00Z\n")
			sys.now = tc.now
			r := startInitOn(t, sys)
			r.waitConsole(t, SentinelServing)
			r.shutdown <- syscall.SIGTERM
			<-r.sys.powerOff
			<-r.done
			calls := r.sys.Calls()
			want := "service dir /run/ntpbox group 100"
			if tc.wantCall {
				want = "set clock 2026-11-26T03:00:00Z"
			}
			if calls[5] != want {
				t.Errorf("calls after the mounts: %q, want %q first", calls[5:7], want)
			}
			if !strings.Contains(r.logs.String(), tc.wantLog) {
				t.Errorf("log lacks %s:\n%s", tc.wantLog, r.logs.String())
			}
		})
	}
}
