package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/control/cmdmon"
)

// remoteTimeout bounds one command against a remote box: chronyc's
// three attempts (1, 2 and 4 s) for each of its requests.
const remoteTimeout = 20 * time.Second

// remoteCommands are what `ntpbox -h BOX` asks over chrony's command
// port (UDP 323): the reports, and the two commands a box or chronyd
// refuses from the network (which it is told, and says so).
var remoteCommands = map[string]bool{
	control.CmdTracking: true, control.CmdSources: true, control.CmdSourceStats: true,
	control.CmdActivity: true, control.CmdServerStats: true, control.CmdClients: true,
	control.CmdNTPData: true, control.CmdMakeStep: true, control.CmdBurst: true,
}

// remoteTarget is `-h HOST [-p PORT] [-4|-6]`: a box or a chronyd to ask
// over its command port, as chronyc -h does.
type remoteTarget struct {
	host    string
	port    int
	network string // udp, udp4 or udp6
}

// parseRemote takes the global flags before the command: -h HOST, -p
// PORT, -4, -6. help is true when they ask for help (`ntpbox -h` alone,
// as `ntpbox --help`). rest starts with the command.
func parseRemote(args []string) (r *remoteTarget, rest []string, help bool, err error) {
	r = &remoteTarget{port: 323, network: "udp"}
	hostSet := false
	for len(args) > 0 {
		switch a := args[0]; a {
		case "-h", "--h", "-host", "--host":
			if len(args) < 2 {
				return nil, nil, true, nil
			}
			r.host, hostSet, args = args[1], true, args[2:]
		case "-p", "--p":
			if len(args) < 2 {
				return nil, nil, false, errors.New("-p needs a port")
			}
			p, err := strconv.Atoi(args[1])
			if err != nil || p < 1 || p > 65535 {
				return nil, nil, false, fmt.Errorf("-p %s: want a port, 1 to 65535", args[1])
			}
			r.port, args = p, args[2:]
		case "-4":
			r.network, args = "udp4", args[1:]
		case "-6":
			r.network, args = "udp6", args[1:]
		case "-help", "--help":
			return nil, nil, true, nil
		default:
			if !hostSet {
				return nil, nil, false, fmt.Errorf("-p, -4 and -6 go with -h HOST (%s)", a)
			}
			return r, args, false, nil
		}
	}
	if !hostSet {
		return nil, nil, true, nil
	}
	return nil, nil, false, fmt.Errorf("-h %s: which command? (%s)", r.host, "tracking, sources, sourcestats, activity, serverstats, clients or ntpdata")
}

// remote runs `ntpbox -h HOST [-p PORT] [-4|-6] COMMAND ...`.
func remote(args []string, stdout, stderr io.Writer) int {
	r, rest, help, err := parseRemote(args)
	switch {
	case help:
		fmt.Fprint(stdout, usage)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "ntpbox: %v\n", err)
		return 2
	}
	cmd := rest[0]
	if !remoteCommands[cmd] {
		fmt.Fprintf(stderr, "ntpbox -h %s: %s is not asked over the network; the command port answers tracking, sources, sourcestats, activity, serverstats, clients and ntpdata\n", r.host, cmd)
		return 2
	}
	return runStatus(cmd, rest[1:], r, stdout, stderr)
}

// print asks the remote daemon for cmd's report and prints it as the
// local command does.
func (r *remoteTarget) print(ctx context.Context, w io.Writer, cmd string, arg statusArg, verbose, asJSON bool) error {
	c, err := cmdmon.Dial(ctx, r.network, net.JoinHostPort(r.host, strconv.Itoa(r.port)))
	if err != nil {
		return err
	}
	defer c.Close()
	var report any
	switch cmd {
	case control.CmdTracking:
		report, err = c.Tracking(ctx)
	case control.CmdSources, control.CmdSourceStats:
		report, err = c.Sources(ctx, cmd == control.CmdSourceStats)
	case control.CmdActivity:
		report, err = c.Activity(ctx)
	case control.CmdServerStats:
		report, err = c.ServerStats(ctx)
	case control.CmdClients:
		report, err = c.Clients(ctx)
	case control.CmdNTPData:
		report, err = c.NTPData(ctx, arg.addr)
	case control.CmdMakeStep:
		if err = c.MakeStep(ctx); err == nil {
			_, err = fmt.Fprintln(w, "200 OK")
		}
		return err
	case control.CmdBurst:
		if arg.burst.Name != "" {
			return fmt.Errorf("burst over the network takes MASK/ADDRESS, not a name (%s)", arg.burst.Name)
		}
		if err = c.Burst(ctx, arg.burst.Good, arg.burst.Max, arg.burst.Prefix); err == nil {
			_, err = fmt.Fprintln(w, "200 OK")
		}
		return err
	default:
		return fmt.Errorf("%s is not asked over the network", cmd)
	}
	if err != nil {
		return err
	}
	return printReport(w, cmd, report, arg, verbose, asJSON)
}
