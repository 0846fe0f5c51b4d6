package config_test

import (
	"errors"
	"fmt"

	"github.com/ntpbox/ntpbox/config"
)

func Example() {
	conf := []byte(`# /etc/ntpbox.conf
server 0.centos.pool.ntp.org iburst
server 1.centos.pool.ntp.org iburst
allow 10.0.0.0/8
local stratum 3
logdir /var/log/chrony
`)
	cfg, warnings, err := config.ParseBytes("/etc/ntpbox.conf", conf)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	for _, s := range cfg.Sources {
		fmt.Printf("source %s iburst=%v poll %d..%d\n", s.Host, s.IBurst, s.MinPoll, s.MaxPoll)
	}
	fmt.Println("allow", cfg.Access[0].Prefix, "on port", cfg.Port)
	fmt.Println("local stratum", cfg.Local.Stratum)
	// Output:
	// warning: /etc/ntpbox.conf:6: logdir: not implemented by ntpbox; ignored
	// source 0.centos.pool.ntp.org iburst=true poll 6..10
	// source 1.centos.pool.ntp.org iburst=true poll 6..10
	// allow 10.0.0.0/8 on port 123
	// local stratum 3
}

func ExampleError() {
	_, _, err := config.ParseBytes("/etc/ntpbox.conf", []byte("allow 10.0.0.0/8\nlocal stratum 16\nallow 10.0.0.0/33\n"))
	fmt.Println(err)

	var e *config.Error
	if errors.As(err, &e) {
		fmt.Println("first bad line:", e.Origin.Line, e.Directive)
	}
	// Output:
	// /etc/ntpbox.conf:2: local: stratum: expected an integer 1..15, got "16"
	// /etc/ntpbox.conf:3: allow: expected an address, a subnet or "all", got "10.0.0.0/33" (the prefix length must be 0..32)
	// first bad line: 2 local
}
