package box

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// followEvery is how often FollowFile looks at the file: init rewrites it
// when a DHCP lease arrives or changes, and a second is soon enough.
var followEvery = time.Second

// FollowFile reads the merged config init writes (config.Encode, replaced
// atomically), and then sends each new version of it, until ctx ends. A
// version that does not decode is logged and skipped: the service goes on
// with the last good one.
func FollowFile(ctx context.Context, path string, log *slog.Logger) (*config.Config, <-chan *config.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read merged config: %w", err)
	}
	cfg, err := config.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(chan *config.Config, 1)
	go func() {
		defer close(out)
		last := data
		tick := time.NewTicker(followEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			b, err := os.ReadFile(path)
			if err != nil || bytes.Equal(b, last) {
				continue
			}
			last = b
			c, err := config.Decode(b)
			if err != nil {
				log.Error("ignoring a new merged config", "file", path, "err", err)
				continue
			}
			select { // the newest wins
			case <-out:
			default:
			}
			out <- c
		}
	}()
	return cfg, out, nil
}
