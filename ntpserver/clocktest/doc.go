// Package clocktest simulates a small NTP world in accelerated time so
// that the real upstream engine and clock discipline can be tested
// against it: a system clock with a frequency error, random-walk wander
// and steps (Clock, a clock.Clock), NTP servers that answer the engine's
// real requests with the ntpserver codec (Server: offsets, steps,
// falsetickers, outages, leap announcements, Kiss-o'-Death), network
// paths with delay, jitter, asymmetry and loss (Link), and a driver that
// jumps from event to event — a simulated day takes well under a
// second.
//
// Sim is one box and its servers. Net is a LAN of several boxes, each an
// engine on its own clock at its own address, that poll servers and
// each other: a box answers with its clock and the state its engine
// serves, so that synchronisation loops and orphan mode (`local ...
// orphan`) play out as they would between real boxes.
//
// The world can be made as unkind as real ones: oscillators whose
// frequency steps (FreqStep) or follows the room's temperature, clocks
// that stall as a QEMU TCG guest's do and whose readings are noisy
// (ClockConfig), a kernel that caps and quantises fast slews
// (Clock.Linux), paths with heavy-tailed (Pareto) delays and packets
// late in one direction only (Link, Late), boxes whose requests leave a
// while after the engine read its transmit time (Box.TxDelay). A Probe
// is a client with a perfect clock that measures what a box serves,
// and whether the box's own error bound holds.
//
// Everything is deterministic for a given seed (math/rand/v2 PCG).
package clocktest
