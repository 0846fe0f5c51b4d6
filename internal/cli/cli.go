// Package cli parses a subcommand's flags the way people expect of a
// command line tool: flags before, between and after the arguments
// (`ntpbox check ntpbox.conf -f other.conf` and `ntpbox sources -v
// --json` alike), with "--" ending the flags.
package cli

import "flag"

// Parse parses args with fs, flags anywhere, and returns the other
// arguments in order. Its errors are fs.Parse's (flag.ErrHelp for -h or
// --help: the caller exits 0).
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
