package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version prints what this binary is: its module version, the commit it
// was built from (and whether the tree had changes), the commit's time,
// and the Go toolchain and platform. A box's owner quotes this line in a
// bug report; the appliance's manifest names the same commit.
func version(args []string) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Println("usage: ntpbox version: prints the build (version, commit, Go toolchain)")
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "ntpbox version: takes no arguments, got %q\n", args)
		return 2
	}
	fmt.Println(versionLine())
	return 0
}

// buildCommit is set by the Makefile (-ldflags -X) where the Go
// toolchain stamps no VCS information.
var buildCommit string

func versionLine() string {
	v, rev, at, modified := "(devel)", "unknown", "", false
	if buildCommit != "" {
		rev = buildCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		rev += "+changes"
	}
	commit := "commit " + rev
	if at != "" {
		commit += " of " + at
	}
	return fmt.Sprintf("ntpbox %s (%s), %s %s/%s", v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
