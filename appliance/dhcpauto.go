package appliance

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
)

// resolveDHCPAuto decides `dhcp auto` where only init knows the answer:
// when the box's own address came from a DHCP server, that server owns
// the LAN's leases, so the box only answers DHCPINFORM, and it logs the
// lines that server's admin should add to hand out option 42. It returns
// the config lines to append ("" when there is nothing to decide here).
// With a static address, `dhcp auto` is left to `ntpbox serve`, which
// looks for another DHCP server on the segment before it leases anything.
func (in *Init) resolveDHCPAuto(cfg *config.Config, n Network) string {
	if cfg.DHCP == nil || cfg.DHCP.Mode != config.DHCPAuto || !n.DHCP {
		return ""
	}
	if len(n.Addresses) == 0 {
		in.Log.Warn("dhcp auto: no DHCP lease yet; no DHCP service until the box restarts with one")
		return "\n# added by init: `dhcp auto`, no DHCP lease yet: no DHCP service\ndhcp off\n"
	}
	servers := cfg.Advertise
	if len(servers) == 0 {
		servers = []netip.Addr{n.Addresses[0].Addr()}
	}
	in.Log.Info("dhcp auto: this box's address came from a DHCP server, so ntpbox only answers DHCPINFORM; "+
		"to hand out option 42 to every client, add the lines below to that server (`ntpbox dhcp-snippet --for KIND` prints them for "+
		strings.Join(dhcpopt.SnippetKinds, ", ")+")", "servers", servers)
	for _, kind := range []string{"dnsmasq", "isc-dhcpd"} {
		if snip, err := dhcpopt.Snippet(kind, servers); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(snip), "\n") {
				in.Log.Info("dhcp snippet", "for", kind, "line", line)
			}
		}
	}
	return fmt.Sprintf("\n# added by init: `dhcp auto`, and this box's address came from a DHCP server\n# (%s): answer DHCPINFORM only, never lease\ndhcp inform\n", n.Addresses[0])
}
