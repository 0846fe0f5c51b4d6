package appliance

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Where the appliance keeps its config.
const (
	BakedConfig = "/etc/ntpbox.conf"     // in the initramfs, validated when the image was built
	RunConfig   = "/run/ntpbox.conf"     // what `ntpbox serve` reads
	NetConfig   = "/run/ntpbox-net.conf" // a record of the network settings, for people
)

// ComposeConfig returns the config `ntpbox serve` runs with: the baked-in
// file, then an `allow` line for each connected subnet (so that the box
// serves the networks it is on), then the kernel command line's lines,
// which come last so that they can override the rest (`deny all`, a
// second `local`).
func ComposeConfig(baked []byte, connected []netip.Prefix, lines []string) []byte {
	var b bytes.Buffer
	b.Write(baked)
	if len(baked) > 0 && baked[len(baked)-1] != '\n' {
		b.WriteByte('\n')
	}
	if len(connected) > 0 {
		b.WriteString("\n# added by init: serve the connected subnets\n")
		for _, p := range connected {
			fmt.Fprintf(&b, "allow %s\n", p)
		}
	}
	if len(lines) > 0 {
		b.WriteString("\n# added by init from the kernel command line (ntpbox.DIRECTIVE=ARGS)\n")
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// FallbackConfig is ComposeConfig without the command line's lines: what
// init runs when those lines make the config invalid, so that a typo on
// the command line does not leave the box serving nobody.
func FallbackConfig(baked []byte, connected []netip.Prefix) []byte {
	return ComposeConfig(baked, connected, nil)
}

// Format returns the network settings in the syntax of the command line
// directives, one per line, as written to /run/ntpbox-net.conf.
func (n Network) Format() string {
	var b strings.Builder
	b.WriteString("# network settings from the kernel command line (ntpbox.*); init applies them\n")
	if n.Interface != "" {
		fmt.Fprintf(&b, "interface %s\n", n.Interface)
	}
	if n.DHCP {
		b.WriteString("address dhcp\n")
	}
	for _, p := range n.Addresses {
		fmt.Fprintf(&b, "address %s\n", p)
	}
	if n.Gateway.IsValid() {
		fmt.Fprintf(&b, "gateway %s\n", n.Gateway)
	}
	for _, a := range n.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	for _, a := range n.NTPServers {
		fmt.Fprintf(&b, "# NTP server from DHCP: %s\n", a)
	}
	return b.String()
}

// ResolvConf returns /etc/resolv.conf for the nameservers, or nil when
// there are none.
func (n Network) ResolvConf() []byte {
	if len(n.Nameservers) == 0 {
		return nil
	}
	var b bytes.Buffer
	for _, a := range n.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	return b.Bytes()
}
