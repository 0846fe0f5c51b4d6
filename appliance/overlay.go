package appliance

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ntpbox/ntpbox/config"
)

// Prefix is the start of the kernel command line parameters that
// configure the appliance.
const Prefix = "ntpbox."

// Overlay is what the kernel command line adds to the baked-in config.
type Overlay struct {
	Net Network
	// Lines are config lines for `ntpbox serve`, in command line order:
	// ntpbox.local=stratum,3 gives "local stratum 3".
	Lines []string
	// TestKill makes init kill the service once with SIGKILL after it
	// first serves (ntpbox.testkill=1), so that a test can watch the
	// supervisor restart it. Not for production.
	TestKill bool
}

// Network is the static network setup from the kernel command line. The
// zero Network leaves every interface but lo down.
type Network struct {
	Interface string // ntpbox.interface=; "" picks the first Ethernet interface
	// DHCP (ntpbox.address=dhcp) asks a DHCP server for the address,
	// router, DNS and NTP servers, and keeps renewing the lease.
	DHCP        bool
	Addresses   []netip.Prefix // ntpbox.address=ADDR/LEN, repeatable
	Gateway     netip.Addr     // ntpbox.gateway=ADDR; invalid when unset
	Nameservers []netip.Addr   // ntpbox.nameserver=ADDR, repeatable
	// NTPServers are the DHCP server's NTP servers (option 42); only
	// in the network as configured, never from the command line.
	NTPServers []netip.Addr
}

// NetworkFromConfig is the config file's network directives (address,
// gateway, nameserver, interface) as a Network.
func NetworkFromConfig(c config.Network) Network {
	return Network{
		Interface: c.Interface, DHCP: c.DHCP, Addresses: c.Addresses,
		Gateway: c.Gateway, Nameservers: c.Nameservers,
	}
}

// Over returns n laid over base: each setting n has (the addresses or
// DHCP, the gateway, the name servers, the interface) replaces base's.
// The kernel command line's settings are laid over the config file's.
func (n Network) Over(base Network) Network {
	out := base
	if n.DHCP || len(n.Addresses) > 0 {
		out.DHCP, out.Addresses = n.DHCP, n.Addresses
	}
	if n.Gateway.IsValid() {
		out.Gateway = n.Gateway
	}
	if len(n.Nameservers) > 0 {
		out.Nameservers = n.Nameservers
	}
	if n.Interface != "" {
		out.Interface = n.Interface
	}
	out.NTPServers = append(base.NTPServers[:len(base.NTPServers):len(base.NTPServers)], n.NTPServers...)
	return out
}

// Connected returns the subnets of the configured addresses, masked.
func (n Network) Connected() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range n.Addresses {
		out = append(out, p.Masked())
	}
	return out
}

// ParseOverlay picks the ntpbox.* parameters out of a kernel command line.
// It returns every bad parameter as an error, each naming the parameter,
// and an Overlay of the good ones: PID 1 logs the errors and boots on.
//
// ntpbox.DIRECTIVE=ARGS becomes the config line "DIRECTIVE ARGS", with
// each ',' in ARGS standing for a space; ntpbox.DIRECTIVE alone becomes
// "DIRECTIVE". The directives interface, address, gateway, nameserver and
// testkill are the appliance's own and configure init itself.
func ParseOverlay(params []Param) (Overlay, []error) {
	var ov Overlay
	var errs []error
	for _, p := range params {
		if !strings.HasPrefix(p.Key, Prefix) {
			continue
		}
		directive := strings.ToLower(p.Key[len(Prefix):])
		args := strings.ReplaceAll(p.Value, ",", " ")
		if err := ov.add(directive, args, p.HasValue); err != nil {
			errs = append(errs, fmt.Errorf("kernel command line %q: %w", p.String(), err))
		}
	}
	return ov, errs
}

func (ov *Overlay) add(directive, args string, hasValue bool) error {
	if directive == "" || !isWord(directive) {
		return fmt.Errorf("expected %sDIRECTIVE with a directive of letters, digits and _", Prefix)
	}
	for _, c := range args {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("control character %q in the arguments", c)
		}
	}
	args = strings.Join(strings.Fields(args), " ")
	switch directive {
	case "interface":
		if !isWord(strings.ReplaceAll(strings.ReplaceAll(args, "-", "_"), ".", "_")) {
			return fmt.Errorf("expected an interface name, got %q", args)
		}
		ov.Net.Interface = args
	case "address":
		if strings.EqualFold(args, "dhcp") {
			ov.Net.DHCP = true
			return nil
		}
		p, err := netip.ParsePrefix(args)
		if err != nil {
			return fmt.Errorf("expected ADDRESS/LENGTH or dhcp: %w", err)
		}
		ov.Net.Addresses = append(ov.Net.Addresses, p)
	case "gateway":
		a, err := netip.ParseAddr(args)
		if err != nil {
			return fmt.Errorf("expected an IP address: %w", err)
		}
		ov.Net.Gateway = a
	case "nameserver":
		a, err := netip.ParseAddr(args)
		if err != nil {
			return fmt.Errorf("expected an IP address: %w", err)
		}
		ov.Net.Nameservers = append(ov.Net.Nameservers, a)
	case "testkill":
		ov.TestKill = args == "1" || args == "" && !hasValue
	default:
		if args == "" {
			ov.Lines = append(ov.Lines, directive)
		} else {
			ov.Lines = append(ov.Lines, directive+" "+args)
		}
	}
	return nil
}

func isWord(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// The kernel command line syntax moved to package config.
type Param = config.Param

var (
	ReadCmdline  = config.ReadCmdline
	SplitCmdline = config.SplitCmdline
)
