package appliance

import (
	"fmt"
	"strings"
	"time"
)

// BuildTimeFile holds the image's build time (RFC 3339), baked in by
// mkimage: no clock that reads earlier can be right.
const BuildTimeFile = "/etc/ntpbox-build-time"

// ClockFloor is the policy for the clock the kernel's hctosys set from
// the RTC: a clock before floor (a dead RTC battery reads 2000 or 1970)
// is stepped to floor; any other is left alone. It returns the time to
// set and whether to set it.
func ClockFloor(now, floor time.Time) (time.Time, bool) {
	if now.Before(floor) {
		return floor, true
	}
	return time.Time{}, false
}

// ParseBuildTime reads BuildTimeFile's contents.
func ParseBuildTime(b []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", BuildTimeFile, err)
	}
	return t, nil
}

// checkClock steps the system clock up to the image's build time when
// the RTC gave one that cannot be right, and logs it.
func (in *Init) checkClock() {
	b, err := in.Sys.ReadFile(BuildTimeFile)
	if err != nil {
		in.Log.Warn("no build time in the image: the clock is not checked", "err", err)
		return
	}
	floor, err := ParseBuildTime(b)
	if err != nil {
		in.Log.Error("build time", "err", err)
		return
	}
	now := in.Sys.Now()
	to, step := ClockFloor(now, floor)
	if !step {
		in.Log.Info("system clock is plausible", "clock", now.UTC().Format(time.RFC3339), "floor", floor.Format(time.RFC3339))
		return
	}
	if err := in.Sys.SetClock(to); err != nil {
		in.Log.Error("system clock is before the image's build time; setting it failed", "clock", now.UTC().Format(time.RFC3339), "err", err)
		return
	}
	in.Log.Warn("system clock was before the image's build time: stepped to it",
		"from", now.UTC().Format(time.RFC3339), "to", to.UTC().Format(time.RFC3339))
}
