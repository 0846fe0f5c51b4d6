package main

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/internal/cli"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
)

// statusTimeout bounds one exchange with the daemon.
const statusTimeout = 5 * time.Second

// status runs `ntpbox sources|sourcestats|tracking|clients|activity|
// serverstats|ntpdata|makestep|burst`: ask the running daemon over its
// control socket (or, with -h BOX, a box or chronyd over chrony's
// command port) and print what chronyc prints.
func status(cmd string, args []string, remote *remoteTarget) int {
	return runStatus(cmd, args, remote, os.Stdout, os.Stderr)
}

// statusUsage is each command's arguments after its name.
var statusUsage = map[string]string{
	control.CmdSources:     " [-v]",
	control.CmdSourceStats: " [-v]",
	control.CmdNTPData:     " [ADDRESS]",
	control.CmdBurst:       " GOOD/MAX [MASK/ADDRESS]",
}

// changesState are the commands that act rather than report: chronyc
// sends them only to chronyd's local socket; ntpbox takes them only on
// its control socket.
func changesState(cmd string) bool { return cmd == control.CmdMakeStep || cmd == control.CmdBurst }

func runStatus(cmd string, args []string, remote *remoteTarget, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fset.SetOutput(stderr)
	verbose := new(bool)
	if cmd == control.CmdSources || cmd == control.CmdSourceStats {
		fset.BoolVar(verbose, "v", false, "print chronyc's legend of the columns")
	}
	asJSON := new(bool)
	if !changesState(cmd) {
		fset.BoolVar(asJSON, "json", false, "print the report as JSON, for scripts (durations in seconds)")
	}
	file, sock := new(string), new(string)
	where := " [-f FILE | -s SOCKET]"
	if remote == nil {
		fset.StringVar(file, "f", defaultConfig, "config `file` whose bindcmdaddress names the control socket")
		fset.StringVar(sock, "s", "", "control `socket` of the daemon (instead of -f)")
	} else {
		where = ""
	}
	fset.Usage = func() {
		jsonUsage := " [--json]"
		if changesState(cmd) {
			jsonUsage = ""
		}
		prefix := "ntpbox"
		if remote != nil {
			prefix = "ntpbox -h " + remote.host
		}
		fmt.Fprintf(stderr, "usage: %s %s%s%s%s\n", prefix, cmd, statusUsage[cmd], jsonUsage, where)
		fset.PrintDefaults()
	}
	pos, err := cli.Parse(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var arg statusArg
	switch {
	case cmd == control.CmdNTPData && len(pos) <= 1:
		if len(pos) == 1 {
			arg.addr, err = lookupAddr(pos[0])
		}
	case cmd == control.CmdBurst:
		arg.burst, err = control.ParseBurst(pos)
	case len(pos) > 0:
		err = fmt.Errorf("%s takes no arguments", cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ntpbox %s: %v\n", cmd, err)
		fset.Usage()
		return 2
	}
	fileSet := false
	fset.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "f" })

	if remote != nil {
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		defer cancel()
		err = remote.print(ctx, stdout, cmd, arg, *verbose, *asJSON)
	} else {
		var path string
		path, err = socketFor(*file, fileSet, *sock)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			err = printStatus(ctx, stdout, path, cmd, arg, *verbose, *asJSON)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ntpbox: %s\n", err)
		return 1
	}
	return 0
}

// statusArg is a command's arguments: ntpdata's address, burst's.
type statusArg struct {
	addr  netip.Addr
	burst control.BurstArgs
}

// lookupAddr is chronyc's parse_source_address: an address, or a name
// looked up.
func lookupAddr(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("could not get address for hostname %q: %v", s, err)
	}
	return addrs[0].Unmap(), nil
}

// socketFor finds the daemon's control socket as `ntpbox serve` chose it:
// the -s socket if given, else from the config file. A missing config
// file is not an error unless it was named with -f: the daemon then runs
// with the default socket too.
func socketFor(file string, fileSet bool, sock string) (string, error) {
	if sock != "" {
		if fileSet {
			return "", errors.New("-f and -s are exclusive: -s names the socket, -f a config file that names it")
		}
		return sock, nil
	}
	if !fileSet {
		// On the appliance the running config is what init merged.
		if b, err := os.ReadFile(appliance.RunConfig); err == nil {
			if cfg, err := config.Decode(b); err == nil {
				if path := control.SocketPath(cfg); path != "" {
					return path, nil
				}
			}
		}
	}
	cfg, _, err := config.Load(file)
	switch {
	case err != nil && !fileSet && errors.Is(err, fs.ErrNotExist):
		return control.DefaultSocketPath, nil
	case err != nil:
		return "", err
	}
	path := control.SocketPath(cfg)
	if path == "" {
		return "", fmt.Errorf("%s: bindcmdaddress / disables the control socket, so the daemon cannot be asked (name a socket with -s SOCKET)", file)
	}
	return path, nil
}

// printStatus asks the daemon at path for one report and prints it, or
// carries out makestep or burst.
func printStatus(ctx context.Context, w io.Writer, path, cmd string, arg statusArg, verbose, asJSON bool) error {
	switch cmd {
	case control.CmdSources, control.CmdSourceStats:
		var s []upstream.SourceReport
		if err := control.Request(ctx, path, control.CmdSources, &s); err != nil {
			return err
		}
		return printReport(w, cmd, s, arg, verbose, asJSON)
	case control.CmdTracking:
		return request[upstream.TrackingReport](ctx, w, path, cmd, arg, verbose, asJSON)
	case control.CmdClients:
		return request[[]control.ClientReport](ctx, w, path, cmd, arg, verbose, asJSON)
	case control.CmdActivity:
		return request[control.ActivityReport](ctx, w, path, cmd, arg, verbose, asJSON)
	case control.CmdServerStats:
		return request[control.ServerStats](ctx, w, path, cmd, arg, verbose, asJSON)
	case control.CmdNTPData:
		var nd []control.NTPDataReport
		if err := control.Request(ctx, path, cmd, &nd); err != nil {
			return err
		}
		if arg.addr.IsValid() {
			nd = slices.DeleteFunc(nd, func(r control.NTPDataReport) bool { return r.RemoteAddr != arg.addr })
			if len(nd) == 0 {
				return fmt.Errorf("ntpdata: no source at %s (503 No such source)", arg.addr)
			}
		}
		return printReport(w, cmd, nd, arg, verbose, asJSON)
	case control.CmdMakeStep:
		var res control.MakeStepResult
		if err := control.Request(ctx, path, cmd, &res); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "200 OK\nstepped the clock by %+.9f seconds\n", res.Step.Seconds())
		return err
	case control.CmdBurst:
		var res control.BurstResult
		if err := control.RequestArgs(ctx, path, cmd, arg.burst, &res); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "200 OK\n%d sources doing burst\n", res.Sources)
		return err
	}
	return fmt.Errorf("unknown status command %q", cmd)
}

// request asks for a report of type T and prints it.
func request[T any](ctx context.Context, w io.Writer, path, cmd string, arg statusArg, verbose, asJSON bool) error {
	var report T
	if err := control.Request(ctx, path, cmd, &report); err != nil {
		return err
	}
	return printReport(w, cmd, report, arg, verbose, asJSON)
}

// printReport prints cmd's report as chronyc does, or as JSON: the same
// whether it came over the control socket or the command port.
func printReport(w io.Writer, cmd string, report any, arg statusArg, verbose, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(seconds(reflect.ValueOf(report)))
	}
	switch r := report.(type) {
	case []upstream.SourceReport:
		if cmd == control.CmdSourceStats {
			return control.FormatSourceStats(w, r, verbose)
		}
		return control.FormatSources(w, r, verbose)
	case upstream.TrackingReport:
		return control.FormatTracking(w, r)
	case []control.ClientReport:
		return control.FormatClients(w, r)
	case control.ActivityReport:
		return control.FormatActivity(w, r)
	case control.ServerStats:
		return control.FormatServerStats(w, r)
	case []control.NTPDataReport:
		return control.FormatNTPData(w, r, arg.addr.IsValid())
	}
	return fmt.Errorf("%s: no format for %T", cmd, report)
}

// seconds is v for --json: every time.Duration as seconds, a float (as
// chronyc's -c output and Prometheus give them), not Go's nanoseconds;
// structs become objects with their fields' JSON names, in order.
func seconds(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return time.Duration(v.Int()).Seconds()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = seconds(v.Index(i))
		}
		return out
	case reflect.Struct:
		if _, ok := v.Interface().(json.Marshaler); ok {
			return v.Interface() // time.Time, netip.Addr...: their own form
		}
		if _, ok := v.Interface().(encoding.TextMarshaler); ok {
			return v.Interface()
		}
		var obj orderedObject
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			obj = append(obj, field{name, seconds(v.Field(i))})
		}
		return obj
	}
	return v.Interface()
}

type field struct {
	name  string
	value any
}

// orderedObject is a JSON object that keeps its fields' order.
type orderedObject []field

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
