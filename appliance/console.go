package appliance

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// consoleNames reads /proc/consoles: every console the kernel writes to,
// e.g. tty0 (the screen) and ttyS0 (the serial port) for
// `console=tty0 console=ttyS0`. /dev/console is only the last of them,
// so init writes its own lines to each.
func consoleNames(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// "ttyS0                -W- (EC p a)    4:64"
		f := strings.Fields(sc.Text())
		if len(f) > 1 && strings.Contains(f[1], "W") && !strings.ContainsAny(f[0], "/.") {
			out = append(out, f[0])
		}
	}
	return out
}

// multiConsole writes each line to every console. A console that fails
// (a serial port nobody reads cannot fail, but a screen can go) is left
// out of that write; the others still get it.
type multiConsole struct {
	mu  sync.Mutex
	out []io.Writer
}

func (m *multiConsole) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.out {
		w.Write(p)
	}
	return len(p), nil
}

// bannerInfo is what the banner says about the box.
type bannerInfo struct {
	Hostname string
	Link     string
	Addrs    []netip.Prefix
	Lease    *config.Lease // nil for a static address
	DHCP     bool          // `address dhcp`
	Port     int           // the NTP port served, 0 for none
	Sync     string        // "synchronised to ... (stratum 3)", "not synchronised yet", ...
	Problems []string      // what is wrong with the config
}

// banner is the block printed on every console when the network comes up
// or changes: who the box is, where, whether its time is good, and how to
// reach it. Each line starts with "ntpbox: " so that it stands out among
// the kernel's messages.
func banner(b bannerInfo, now time.Time) string {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	rule := strings.Repeat("-", 64)
	add("%s", rule)
	var addrs []string
	for _, p := range b.Addrs {
		addrs = append(addrs, p.String())
	}
	switch {
	case len(addrs) > 0 && b.Lease != nil:
		add("%s at %s on %s (DHCP lease from %s, %s left)", b.Hostname, strings.Join(addrs, ", "), b.Link,
			b.Lease.Server, b.Lease.Expires().Sub(now).Round(time.Second))
	case len(addrs) > 0:
		add("%s at %s on %s (static)", b.Hostname, strings.Join(addrs, ", "), b.Link)
	case b.DHCP:
		add("%s on %s: no address yet, asking DHCP (it keeps asking)", b.Hostname, b.Link)
	default:
		add("%s: no network configured", b.Hostname)
	}
	switch {
	case b.Port == 0:
		add("NTP: not served (no allow line, or port 0)")
	default:
		add("NTP on UDP %d; time: %s", b.Port, b.Sync)
	}
	if len(addrs) > 0 && b.Port != 0 {
		a := b.Addrs[0].Addr()
		add("check it from the LAN: ntpdate -q %s   or   ntpdig %s", a, a)
	}
	for _, p := range b.Problems {
		for i, l := range strings.Split(p, "\n") {
			if i == 0 {
				add("CONFIG PROBLEM: %s", l)
			} else {
				add("  %s", l)
			}
		}
	}
	add("%s", rule)
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("ntpbox: " + l + "\n")
	}
	return sb.String()
}
