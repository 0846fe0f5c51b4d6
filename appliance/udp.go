package appliance

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// listensUDP reports whether a /proc/net/udp or /proc/net/udp6 table
// (read from r) has a socket bound to local port port. Init uses it to
// see that `ntpbox serve` is up without speaking NTP to it, which its
// access rules may forbid.
func listensUDP(r io.Reader, port int) bool {
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		// "  sl  local_address rem_address   st ..."; local_address is
		// ADDR:PORT with PORT in hex.
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
		if err == nil && int(p) == port {
			return true
		}
	}
	return false
}
