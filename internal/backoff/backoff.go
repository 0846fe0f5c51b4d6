// Package backoff paces a read or accept loop that keeps failing (issue
// 11: no loop spins on an error): the first wait is Min, each next one
// twice the last, up to Max, and a success starts over.
//
//	var b backoff.Backoff // 5 ms doubling to 1 s
//	for {
//		n, peer, err := conn.ReadFrom(buf)
//		if err != nil {
//			if errors.Is(err, net.ErrClosed) {
//				return nil
//			}
//			if !b.Wait(done) {
//				return nil
//			}
//			continue
//		}
//		b.Reset()
//		...
//	}
package backoff

import "time"

// Defaults of a zero Backoff.
const (
	DefaultMin = 5 * time.Millisecond
	DefaultMax = time.Second
)

// Backoff is the wait before the next attempt. The zero value waits
// DefaultMin doubling to DefaultMax. It is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the wait before the next attempt and doubles the one
// after it.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	b.cur = min(max(2*b.cur, lo), hi)
	return b.cur
}

// Reset makes the next wait Min again: after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Wait sleeps for Next, or until done is closed (then it returns false).
// done may be nil.
func (b *Backoff) Wait(done <-chan struct{}) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
