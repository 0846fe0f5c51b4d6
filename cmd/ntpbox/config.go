package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/cli"
)

// configCmd is `ntpbox config`: the merged config with where each setting
// came from. On the appliance that is what init merged from the baked
// config, /perm, the command line and the DHCP lease; on a host, a config
// file with chrony's and ntpbox's defaults.
func configCmd(args []string) int {
	fs := flag.NewFlagSet("config", flag.ExitOnError)
	file := fs.String("f", "", "a config `file` to merge and print instead of the appliance's")
	merged := fs.String("c", appliance.RunConfig, "the merged config `file` init writes on the appliance")
	pos, _ := cli.Parse(fs, args)
	var cfg *config.Config
	if len(pos) > 1 || len(pos) == 1 && *file != "" {
		fmt.Fprintf(os.Stderr, "ntpbox config: one file at a time (FILE or -f FILE), got %q\n", append(pos, *file))
		return 2
	}
	if *file == "" && len(pos) > 0 {
		*file = pos[0]
	}
	if *file == "" {
		b, err := os.ReadFile(*merged)
		switch {
		case errors.Is(err, fsNotExist):
			*file = defaultConfig // not on the appliance
		case err != nil:
			fmt.Fprintf(os.Stderr, "ntpbox: %v\n", err)
			return 1
		default:
			if cfg, err = config.Decode(b); err != nil {
				fmt.Fprintf(os.Stderr, "ntpbox: %s: %v\n", *merged, err)
				return 1
			}
		}
	}
	if cfg == nil {
		var warns []config.Warning
		var err error
		cfg, warns, err = config.Load(*file)
		for _, w := range warns {
			fmt.Fprintf(os.Stderr, "warning: %s\n", w)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s\n%s: invalid\n", err, *file)
			return 1
		}
	}
	if err := cfg.Render(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "ntpbox: %v\n", err)
		return 1
	}
	return 0
}

var fsNotExist = fs.ErrNotExist
