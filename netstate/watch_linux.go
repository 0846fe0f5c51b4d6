//go:build linux

package netstate

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
)

// subscribe returns a channel that receives when the kernel reports a
// link or address change (rtnetlink), or nil when it cannot subscribe;
// Watch then polls.
func subscribe(ctx context.Context, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() { <-ctx.Done(); close(done) }()
	addrs := make(chan netlink.AddrUpdate, 16)
	links := make(chan netlink.LinkUpdate, 16)
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		log.Warn("no netlink address events; polling", "err", err)
		return nil
	}
	if err := netlink.LinkSubscribe(links, done); err != nil {
		log.Warn("no netlink link events; polling", "err", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for {
			select {
			case _, ok := <-addrs:
				if !ok {
					return
				}
			case _, ok := <-links:
				if !ok {
					links = nil
					continue
				}
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}

// lowerUp reads the driver's carrier (IFF_LOWER_UP) from sysfs. The
// kernel sets it the moment the driver sees the cable; IFF_RUNNING
// follows only when linkwatch runs, up to a second later, and a cable
// pulled inside that second is never reported as having been up. ok is
// false when the file cannot be read (the link is down, or no sysfs).
func lowerUp(name string) (up, ok bool) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/carrier")
	if err != nil {
		return false, false
	}
	s := strings.TrimSpace(string(b))
	return s == "1", s == "0" || s == "1"
}
