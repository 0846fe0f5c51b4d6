package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/internal/cli"
)

func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	file := fs.String("f", defaultConfig, "config `file` to validate")
	pos, _ := cli.Parse(fs, args)
	fSet := false
	fs.Visit(func(f *flag.Flag) { fSet = fSet || f.Name == "f" })
	if len(pos) > 1 || len(pos) == 1 && fSet {
		fmt.Fprintf(os.Stderr, "ntpbox check: one file at a time (FILE or -f FILE), got %q\n", pos)
		return 2
	}
	if len(pos) == 1 {
		*file = pos[0]
	}
	cfg, warns, err := config.Load(*file)
	for _, w := range warns {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s\n", err)
		fmt.Fprintf(os.Stderr, "%s: invalid\n", *file)
		return 1
	}
	fmt.Printf("%s: OK (%d sources, %d access rules, %d warnings)\n", *file, len(cfg.Sources), len(cfg.Access), len(warns))
	return 0
}
