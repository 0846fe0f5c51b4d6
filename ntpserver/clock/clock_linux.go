//go:build linux

package clock

import (
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// System returns the system clock, CLOCK_REALTIME, steered with
// clock_adjtime(2). It is the only Clock in ntpbox that touches the
// kernel: Step uses ADJ_SETOFFSET, SetFrequency ADJ_TICK and
// ADJ_FREQUENCY, SetStatus ADJ_STATUS with ADJ_MAXERROR and ADJ_ESTERROR.
// Writing needs CAP_SYS_TIME.
func System() Clock { return linuxClock{} }

type linuxClock struct{}

// Now reads CLOCK_REALTIME. The monotonic reading is stripped so that
// differences between readings see steps and slews, as NTP must.
func (linuxClock) Now() time.Time { return time.Now().Round(0) }

func (linuxClock) Step(d time.Duration) error {
	tx := stepTimex(d)
	return adjtime("step", &tx)
}

func (linuxClock) SetFrequency(ppm float64) error {
	tx := frequencyTimex(ppm)
	return adjtime("set frequency", &tx)
}

func (linuxClock) MaxSlewRate() float64 { return MaxSlewRate }

func (linuxClock) Frequency() (float64, error) {
	var tx unix.Timex // Modes 0: read only
	if err := adjtime("read frequency", &tx); err != nil {
		return 0, err
	}
	return timexFrequency(tx), nil
}

func (linuxClock) SetStatus(s Status) error {
	tx := statusTimex(s)
	return adjtime("set status", &tx)
}

func adjtime(op string, tx *unix.Timex) error {
	// The returned clock state (TIME_OK, TIME_INS, TIME_ERROR, ...) is
	// information, not failure.
	if _, err := unix.ClockAdjtime(unix.CLOCK_REALTIME, tx); err != nil {
		return fmt.Errorf("clock_adjtime %s: %w", op, err)
	}
	return nil
}

// stepTimex builds the request that moves the clock by d: ADJ_SETOFFSET
// with ADJ_NANO, where the "usec" field holds nanoseconds in [0, 1e9) and
// the seconds carry the sign.
func stepTimex(d time.Duration) unix.Timex {
	sec, nsec := int64(d/time.Second), int64(d%time.Second)
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	var tx unix.Timex
	tx.Modes = unix.ADJ_SETOFFSET | unix.ADJ_NANO
	setInt(&tx.Time.Sec, sec)
	setInt(&tx.Time.Usec, nsec)
	return tx
}

// The kernel's clock tick: USER_HZ is 100 on every Linux architecture
// ntpbox runs on, so a tick is nominally 10000 µs, and one µs more or
// less per tick is a correction of 100 ppm.
const (
	nominalTick = 10000
	ppmPerTick  = 1e6 / nominalTick
)

// frequencyTimex builds the request that sets the frequency correction,
// clamped to ±MaxSlewRate: the whole multiples of 100 ppm as a longer or
// shorter tick, the rest (within ±50 ppm) as the frequency, scaled by
// 2^16.
func frequencyTimex(ppm float64) unix.Timex {
	ppm = min(max(ppm, -MaxSlewRate), MaxSlewRate)
	if math.IsNaN(ppm) {
		ppm = 0
	}
	ticks := math.Round(ppm / ppmPerTick)
	var tx unix.Timex
	tx.Modes = unix.ADJ_FREQUENCY | unix.ADJ_TICK
	setInt(&tx.Tick, nominalTick+int64(ticks))
	setInt(&tx.Freq, int64(math.Round((ppm-ticks*ppmPerTick)*65536)))
	return tx
}

// timexFrequency is the correction a timex read reports, tick and
// frequency together, in ppm.
func timexFrequency(tx unix.Timex) float64 {
	return float64(int64(tx.Tick)-nominalTick)*ppmPerTick + float64(tx.Freq)/65536
}

// maxKernelError is the largest maximum error Linux keeps (NTP_PHASE_LIMIT
// scaled, 16 s); beyond it the kernel marks the clock unsynchronised.
const maxKernelError = 16 * time.Second

// statusTimex builds the request that reports the synchronisation state.
// The status word is written whole: STA_UNSYNC unless synced, STA_INS or
// STA_DEL for a leap second at the end of the current UTC day, and no
// kernel PLL/FLL/PPS discipline (ntpbox disciplines the clock itself).
// Read-only status bits are kept by the kernel.
func statusTimex(s Status) unix.Timex {
	var tx unix.Timex
	tx.Modes = unix.ADJ_STATUS | unix.ADJ_MAXERROR | unix.ADJ_ESTERROR
	var st int32
	if !s.Synced {
		st |= unix.STA_UNSYNC
	}
	switch s.Leap {
	case LeapInsert:
		st |= unix.STA_INS
	case LeapDelete:
		st |= unix.STA_DEL
	}
	tx.Status = st
	setInt(&tx.Maxerror, int64(min(max(s.MaxError, 0), maxKernelError)/time.Microsecond))
	setInt(&tx.Esterror, int64(min(max(s.EstError, 0), maxKernelError)/time.Microsecond))
	return tx
}

// setInt stores v in a Timex field whose width depends on the
// architecture (int32 on 32-bit systems, int64 on 64-bit ones).
func setInt[T ~int32 | ~int64](p *T, v int64) { *p = T(v) }
