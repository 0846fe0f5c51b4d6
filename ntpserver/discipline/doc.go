// Package discipline steers a clock from estimates of its error: the
// servo between the source selection (which says how far off the clock
// is and how fast it drifts) and the clock.Clock (which can only step and
// change frequency).
//
// It is pure: no time.Now, no sleeps, no clock calls. Callers pass clock
// readings in and apply the Actions that come out. That makes the
// discipline testable in microseconds and lets the upstream engine run it
// against a simulated clock (package clocktest).
//
// # Model
//
// The servo keeps a base frequency correction F (ppm, the clock.Clock
// convention: positive speeds the clock up) and a pending phase
// correction P (seconds). Like chrony it distinguishes the system clock,
// which is only ever slewed or stepped, from the "cooked" clock: the
// system clock plus P, the best estimate of true time. Measurements are
// taken against the cooked clock, so a slew in progress does not disturb
// them.
//
// An Update with offset θ (true time minus cooked time) moves the cooked
// clock by θ (P += θ) and blends the measured residual frequency into F,
// weighted by the uncertainties of both (a one-state Kalman filter with a
// random-walk process noise). The system clock then catches up with the
// cooked one by a temporary frequency offset P/T on top of F, where T is
// CorrTimeRatio times the update interval; the servo re-plans the slew at
// every event the caller reports (Advance) so that it never overshoots,
// even when no more updates come. `makestep THRESHOLD LIMIT` turns the
// pending correction into a step in the first LIMIT updates when it
// exceeds THRESHOLD; `maxchange` is checked before anything is changed.
//
// Every Update tells the caller how the cooked clock moved (DOffset,
// DFreq), so that stored measurements can be re-expressed in the new
// frame — chrony's "adjusted offset".
package discipline
