package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ntpbox/ntpbox/config"
)

func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	file := fs.String("f", defaultConfig, "config `file` to validate")
	fs.Parse(args)
	if fs.NArg() > 0 {
		*file = fs.Arg(0)
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
