package appliance

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// A box without a battery-backed clock (a Raspberry Pi, a PC whose RTC
// battery is flat) starts in 1970 or 2000. Init keeps the last known
// good time on the persistent partition, as Debian's fake-hwclock does,
// and never lets the clock start before it:
//
//   - PermTime is saved every TimeSave (15 minutes), once the service is
//     first synchronised, and at a clean shutdown; as two checksummed
//     copies (package persist), so a power cut leaves the old or the new.
//   - It is saved only when the clock is believed good: the service is
//     synchronised to a source, or the clock was started from the saved
//     time this boot and has not gone back before it (the box has no
//     usable RTC and no source yet: the saved time moves on with the
//     uptime). A clock the RTC set, with no source, is never saved: an
//     RTC that reads years ahead must not become the next boot's floor.
//   - At boot, and when /perm appears late, a clock earlier than the
//     saved time is stepped to it: the floor is the later of the image's
//     build time and the saved time ([ClockFloor]). A synchronised clock
//     is never stepped back to it.
//
// The file is text:
//
//	# ntpbox: the last known good time; the clock never starts before it
//	time 2026-12-04T21:00:00Z
const (
	PermTime = PermDir + "/ntpbox.time"
	// TimeSave is how often the running box saves the time.
	TimeSave = 15 * time.Minute
)

// EncodeSavedTime returns PermTime's contents for t.
func EncodeSavedTime(t time.Time) []byte {
	return fmt.Appendf(nil, "# ntpbox: the last known good time; the clock never starts before it\ntime %s\n", t.UTC().Format(time.RFC3339))
}

// ParseSavedTime reads PermTime's contents.
func ParseSavedTime(b []byte) (time.Time, error) {
	var t time.Time
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		v, ok := strings.CutPrefix(line, "time ")
		if !ok || !t.IsZero() {
			return time.Time{}, fmt.Errorf("line %d: %q: want one `time RFC3339`", i+1, line)
		}
		var err error
		if t, err = time.Parse(time.RFC3339, strings.TrimSpace(v)); err != nil {
			return time.Time{}, fmt.Errorf("line %d: %w", i+1, err)
		}
		if u := t.UTC(); u.Year() < 2000 || u.Year() > 9999 {
			return time.Time{}, fmt.Errorf("line %d: %s is not a plausible time", i+1, v)
		}
	}
	if t.IsZero() {
		return time.Time{}, errors.New("want `time RFC3339`")
	}
	return t, nil
}

// savedClock is init's memory of PermTime.
type savedClock struct {
	saved     time.Time // what PermTime says (read or last written); zero for none
	fromSaved bool      // the clock was stepped to saved this boot
	synced    bool      // the service has been synchronised (saved once then)
}

// applySavedTime reads PermTime (when /perm is mounted) and steps the
// clock up to it when the clock reads earlier and is not synchronised.
func (in *Init) applySavedTime(cfg *config.Config) {
	b, err := in.Sys.ReadBack(PermTime)
	if err != nil {
		in.Log.Info("no last known good time yet", "file", PermTime, "err", err)
		return
	}
	t, err := ParseSavedTime(b)
	if err != nil {
		in.Log.Error("last known good time ignored", "file", PermTime, "err", err)
		return
	}
	in.clock.saved = t
	if cfg != nil && in.synced(cfg) {
		return
	}
	now := in.Sys.Now()
	to, step := ClockFloor(now, t)
	if !step {
		in.Log.Info("system clock is not before the last known good time", "clock", now.UTC().Format(time.RFC3339), "saved", t.Format(time.RFC3339))
		return
	}
	if err := in.Sys.SetClock(to); err != nil {
		in.Log.Error("system clock is before the last known good time; setting it failed", "clock", now.UTC().Format(time.RFC3339), "err", err)
		return
	}
	in.clock.fromSaved = true
	in.Log.Warn("system clock was before the last known good time: stepped to it", "file", PermTime,
		"from", now.UTC().Format(time.RFC3339), "to", to.UTC().Format(time.RFC3339))
}

func (in *Init) synced(cfg *config.Config) bool {
	return in.Synced != nil && in.Synced(cfg)
}

// saveTime writes the clock to PermTime when it is believed good (see
// PermTime); why is for the log.
func (in *Init) saveTime(perm bool, cfg *config.Config, why string) {
	if !perm {
		return
	}
	now := in.Sys.Now()
	synced := in.synced(cfg)
	if !synced && (!in.clock.fromSaved || now.Before(in.clock.saved)) {
		return
	}
	if err := in.Sys.WriteFile(PermTime, EncodeSavedTime(now)); err != nil {
		in.Log.Error("save the last known good time", "file", PermTime, "err", err)
		return
	}
	in.clock.saved = now
	in.Log.Info("last known good time saved", "file", PermTime, "time", now.UTC().Format(time.RFC3339), "why", why, "synchronised", synced)
}
