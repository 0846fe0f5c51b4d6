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
// Everything is deterministic for a given seed (math/rand/v2 PCG).
package clocktest
