package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/dhcpopt"
	"github.com/ntpbox/ntpbox/internal/cli"
)

// dhcpSnippet prints the lines that make an existing DHCP server hand out
// the advertised NTP servers in option 42: the ADDR arguments, or else the
// config's `advertise` addresses.
func dhcpSnippet(args []string) int {
	fs := flag.NewFlagSet("dhcp-snippet", flag.ExitOnError)
	kind := fs.String("for", "", "the DHCP server: "+strings.Join(dhcpopt.SnippetKinds, ", "))
	file := fs.String("f", defaultConfig, "config `file` whose advertise line is used when no ADDR is given")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ntpbox dhcp-snippet --for KIND [-f FILE] [ADDR...]\n")
		fs.PrintDefaults()
	}
	addrs, _ := cli.Parse(fs, args)
	if *kind == "" {
		fmt.Fprintf(os.Stderr, "ntpbox dhcp-snippet: --for is required (one of %s)\n", strings.Join(dhcpopt.SnippetKinds, ", "))
		return 2
	}
	var servers []netip.Addr
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox dhcp-snippet: %q is not an IP address\n", s)
			return 2
		}
		servers = append(servers, a)
	}
	if len(servers) == 0 {
		cfg, warns, err := config.Load(*file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox dhcp-snippet: %s\n", err)
			return 1
		}
		for _, w := range warns {
			fmt.Fprintf(os.Stderr, "warning: %s\n", w)
		}
		for _, a := range cfg.Advertise {
			if a.Is4() {
				servers = append(servers, a)
			}
		}
		if len(servers) == 0 {
			fmt.Fprintf(os.Stderr, "ntpbox dhcp-snippet: %s has no IPv4 advertise address; give the box's address as ADDR\n", *file)
			return 1
		}
	}
	out, err := dhcpopt.Snippet(*kind, servers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox dhcp-snippet: %s\n", err)
		return 2
	}
	fmt.Print(out)
	return 0
}
