package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/internal/cli"
)

// reloadCmd is `ntpbox reload`: the running daemon rereads its config. On
// the appliance init rereads /perm/ntpbox.conf (and cmdline.txt) and
// publishes the merged config to the services; elsewhere `ntpbox serve -f
// FILE` rereads FILE (as it does on SIGHUP). New sources and allow rules
// take effect without dropping a client reply. A bad config is refused,
// with the reason, and the running one stays.
func reloadCmd(args []string) int {
	return reload(args, os.Stdout, os.Stderr)
}

func reload(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", defaultConfig, "config `file` whose bindcmdaddress names the control socket")
	sock := fs.String("s", "", "control `socket` of the daemon (instead of -f)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ntpbox reload [-f FILE | -s SOCKET]   (on the appliance: no flags)")
		fs.PrintDefaults()
	}
	pos, err := cli.Parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 0 {
		fs.Usage()
		return 2
	}
	fileSet := false
	fs.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "f" })
	if !fileSet && *sock == "" {
		if _, err := os.Stat(appliance.LogSocket); err == nil {
			if err := appliance.Reload(appliance.LogSocket); err != nil {
				fmt.Fprintf(stderr, "ntpbox reload: %v\n", err)
				return 1
			}
			fmt.Fprintln(stdout, "reloaded")
			return 0
		}
	}
	path, err := socketFor(*file, fileSet, *sock)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		defer cancel()
		var res control.ReloadResult
		err = control.Request(ctx, path, control.CmdReload, &res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ntpbox reload: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "reloaded")
	return 0
}
