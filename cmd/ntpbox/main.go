// Command ntpbox is a LAN time server that speaks chrony's language: its
// config file takes chrony.conf directives.
//
//	ntpbox serve [-f FILE | -c JSON] [-x] [-d]  run the NTP server
//	ntpbox check [-f] FILE               validate a config file
//	ntpbox config [-f FILE]              the merged config, with where each setting came from
//	ntpbox query [-p PORT] HOST...       ask NTP servers for the time
//	ntpbox sources [-v] [--json]         the upstream sources, as chronyc prints them
//	ntpbox sourcestats [-v] [--json]     their statistics
//	ntpbox tracking [--json]             the state of the system clock
//	ntpbox clients [--json]              the NTP clients served
//	ntpbox activity|serverstats [--json] sources online; the server's counters
//	ntpbox ntpdata [ADDRESS] [--json]    the last NTP packet of each source
//	ntpbox makestep                      step the clock to the estimate now
//	ntpbox burst GOOD/MAX [MASK/ADDRESS] the sources poll in a burst
//	ntpbox -h BOX [-p PORT] COMMAND      ask a box or chronyd over UDP 323 (chronyc -h)
//	ntpbox log [-s SOCKET] [--follow]    the appliance's console log, kept by PID 1
//	ntpbox reload [-f FILE | -s SOCKET]  the running daemon rereads its config
//	ntpbox dhcp-snippet --for KIND [ADDR...]  option 42 for an existing DHCP server
//	ntpbox version                       the build: version, commit, Go toolchain
package main

import (
	"fmt"
	"os"

	"github.com/ntpbox/ntpbox/appliance"
)

const usage = `usage: ntpbox COMMAND [flags]

commands:
  serve   run the NTP server (chronyd)            ntpbox serve [-f FILE | -c JSON] [-x] [-d]
  check   validate a config file, do not run it   ntpbox check [-f] FILE
  config  the merged config and each setting's origin   ntpbox config [-f FILE]
  query   ask servers for the time (ntpdate -q)   ntpbox query [-p PORT] HOST...
  log     init's log and the service's output     ntpbox log [-s SOCKET] [--follow]
  reload  the running daemon rereads its config   ntpbox reload [-f FILE | -s SOCKET]
  dhcp-snippet  option 42 lines for an existing DHCP server
                ntpbox dhcp-snippet --for isc-dhcpd|kea|dnsmasq|openwrt|routeros|windows [-f FILE] [ADDR...]
  version the build: version, commit, Go      ntpbox version

status of the running server, printed as chronyc does (each takes [-f FILE | -s SOCKET] [--json]):
  sources      the time sources (chronyc sources)     ntpbox sources [-v]
  sourcestats  their statistics (chronyc sourcestats) ntpbox sourcestats [-v]
  tracking     the system clock (chronyc tracking)    ntpbox tracking
  clients      the NTP clients (chronyc clients)      ntpbox clients
  activity     sources online, offline, in a burst    ntpbox activity
  serverstats  the NTP server's counters              ntpbox serverstats
  ntpdata      each source's last NTP packet          ntpbox ntpdata [ADDRESS]

acting on the running server (root, over the control socket only; each takes [-f FILE | -s SOCKET]):
  makestep     step the clock to the estimate at once ntpbox makestep
  burst        the sources poll in a burst            ntpbox burst GOOD/MAX [MASK/ADDRESS]

another box or a chronyd, over chrony's command port (chronyc -h; cmdallow must let this host in):
  ntpbox -h BOX [-p PORT] [-4|-6] COMMAND   COMMAND: tracking, sources [-v], sourcestats [-v],
                                            activity, serverstats, clients, ntpdata [ADDRESS]

Run "ntpbox COMMAND -h" for the flags of a command.
`

func main() {
	// The DHCP library makes transaction ids (in its replies and its
	// search for other servers too) from u-root's rand, which spins on
	// getrandom(GRND_NONBLOCK) for up to two minutes until the kernel's
	// pool is ready: with no RDRAND and no RNG device, a box would not
	// answer DHCP for that long. This makes it read /dev/urandom, which
	// never blocks; an xid needs no secrecy. (The box's own DHCP client
	// makes its xids without the library.)
	os.Setenv("UROOT_NOHWRNG", "1")
	if os.Getpid() == 1 {
		// The kernel started us as /init: be the appliance's PID 1.
		appliance.Main()
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var code int
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		code = serve(args)
	case "check":
		code = check(args)
	case "config":
		code = configCmd(args)
	case "query":
		code = query(args)
	case "sources", "sourcestats", "tracking", "clients", "activity", "serverstats", "ntpdata", "makestep", "burst":
		code = status(cmd, args, nil)
	case "-h", "-p", "-4", "-6", "--host":
		code = remote(os.Args[1:], os.Stdout, os.Stderr)
	case "dhcp-snippet":
		code = dhcpSnippet(args)
	case "reload":
		code = reloadCmd(args)
	case "log":
		code = appliance.LogCommand(args)
	case "version", "-version", "--version":
		code = version(args)
	case "help", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ntpbox: unknown command %q\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}
