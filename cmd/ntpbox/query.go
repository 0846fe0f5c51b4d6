package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/ntpbox/ntpbox/internal/cli"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

func query(args []string) int {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	port := fs.Int("p", 123, "server `port`")
	version := fs.Uint("V", 4, "NTP `version` of the request (1-4)")
	timeout := fs.Duration("t", 2*time.Second, "how long to wait for each reply")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ntpbox query [-p PORT] [-V VERSION] [-t TIMEOUT] HOST...")
		fs.PrintDefaults()
	}
	hosts, _ := cli.Parse(fs, args)
	if len(hosts) == 0 || *version < 1 || *version > 4 {
		fs.Usage()
		return 2
	}
	code := 0
	for _, host := range hosts {
		addr := net.JoinHostPort(host, strconv.Itoa(*port))
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		r, err := ntpserver.Query(ctx, nil, addr, uint8(*version), time.Now)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "ntpbox: %s\n", err)
			code = 1
			continue
		}
		fmt.Println(formatResult(r))
		if !r.Synchronised() {
			code = 1
		}
	}
	return code
}

// formatResult prints one reply the way an admin reads ntpdate -q.
func formatResult(r *ntpserver.QueryResult) string {
	h := r.Header
	return fmt.Sprintf("server %s, stratum %d, refid %s, leap %s, version %d, offset %+.6f s, delay %.6f s",
		r.Server, h.Stratum, wire.RefIDString(h.Stratum, h.RefID), h.Leap, h.Version,
		r.Offset.Seconds(), r.Delay.Seconds())
}
