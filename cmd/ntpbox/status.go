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
	"os"
	"reflect"
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

// status runs `ntpbox sources|sourcestats|tracking|clients`: ask the
// running daemon over its control socket and print what chronyc prints.
func status(cmd string, args []string) int {
	return runStatus(cmd, args, os.Stdout, os.Stderr)
}

func runStatus(cmd string, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fset.SetOutput(stderr)
	verbose := new(bool)
	verboseUsage := ""
	if cmd == control.CmdSources || cmd == control.CmdSourceStats {
		fset.BoolVar(verbose, "v", false, "print chronyc's legend of the columns")
		verboseUsage = " [-v]"
	}
	asJSON := fset.Bool("json", false, "print the report as JSON, for scripts")
	file := fset.String("f", defaultConfig, "config `file` whose bindcmdaddress names the control socket")
	sock := fset.String("s", "", "control `socket` of the daemon (instead of -f)")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: ntpbox %s%s [--json] [-f FILE | -s SOCKET]\n", cmd, verboseUsage)
		fset.PrintDefaults()
	}
	pos, err := cli.Parse(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 0 {
		fset.Usage()
		return 2
	}
	fileSet := false
	fset.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "f" })

	path, err := socketFor(*file, fileSet, *sock)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		defer cancel()
		err = printStatus(ctx, stdout, path, cmd, *verbose, *asJSON)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ntpbox: %s\n", err)
		return 1
	}
	return 0
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

// printStatus asks for one report and prints it.
func printStatus(ctx context.Context, w io.Writer, path, cmd string, verbose, asJSON bool) error {
	switch cmd {
	case control.CmdSources:
		return show(ctx, w, path, cmd, asJSON, func(w io.Writer, s []upstream.SourceReport) error {
			return control.FormatSources(w, s, verbose)
		})
	case control.CmdSourceStats:
		return show(ctx, w, path, cmd, asJSON, func(w io.Writer, s []upstream.SourceReport) error {
			return control.FormatSourceStats(w, s, verbose)
		})
	case control.CmdTracking:
		return show(ctx, w, path, cmd, asJSON, control.FormatTracking)
	case control.CmdClients:
		return show(ctx, w, path, cmd, asJSON, control.FormatClients)
	}
	return fmt.Errorf("unknown status command %q", cmd)
}

// show requests a report of type T and prints it as chronyc or as JSON.
func show[T any](ctx context.Context, w io.Writer, path, cmd string, asJSON bool, format func(io.Writer, T) error) error {
	var report T
	if err := control.Request(ctx, path, cmd, &report); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(seconds(reflect.ValueOf(report)))
	}
	return format(w, report)
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
