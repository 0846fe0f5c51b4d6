package netstate

import (
	"context"
	"log/slog"
	"time"
)

// pollEvery is how often Watch reads the links when nothing told it of
// a change: a safety net under the netlink events, and the only way
// where there are none.
var pollEvery = 10 * time.Second

// settle is how long Watch waits after an event for more, so that a
// lease applied as several netlink messages is one change.
const settle = 50 * time.Millisecond

// Watch sends the current State at once, then each changed State, until
// ctx ends; it then closes the channel. A receiver that is slow gets the
// latest State, never a backlog.
func Watch(ctx context.Context, log *slog.Logger) <-chan State {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := make(chan State, 1)
	events := subscribe(ctx, log)
	go func() {
		defer close(out)
		var cur State
		first := true
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for {
			st, err := Read()
			if err != nil {
				log.Warn("read network links", "err", err)
			} else if first || !st.Equal(cur) {
				st.Version = cur.Version + 1
				cur, first = st, false
				select { // replace an unread State with the newer one
				case <-out:
				default:
				}
				out <- cur
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case _, ok := <-events:
				if !ok {
					events = nil
				}
				time.Sleep(settle)
				drain(events)
			}
		}
	}()
	return out
}

func drain(c <-chan struct{}) {
	for {
		select {
		case _, ok := <-c:
			if !ok {
				return
			}
		default:
			return
		}
	}
}
