//go:build !linux

package appliance

import (
	"fmt"
	"os"
	"time"
)

// Main is PID 1's main; the appliance runs only on Linux.
func Main() {
	fmt.Fprintln(os.Stderr, "ntpbox: the appliance init runs only on Linux")
	for {
		time.Sleep(time.Hour)
	}
}
