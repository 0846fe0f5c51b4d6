package sandbox

import (
	"fmt"
	"slices"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
)

// Policy is the seccomp policy for a process that runs services: the
// union of their allow-lists; anything else kills the process. The
// library assembles it for the architecture the binary is built for
// (its AUDIT_ARCH and system call numbers).
func Policy(services []string) (seccomp.Policy, error) {
	if err := Check(services); err != nil {
		return seccomp.Policy{}, err
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("sandbox: %w", err)
	}
	names, families := allowed(info, services)
	var socket []seccomp.NameWithConditions
	for _, f := range families {
		socket = append(socket, seccomp.NameWithConditions{Name: "socket",
			Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: f}}})
	}
	conditional := append(socket,
		// Threads, never namespaces. (clone's flags are its first
		// argument on amd64, 386 and arm64.)
		seccomp.NameWithConditions{Name: "clone", Conditions: []seccomp.Condition{
			{Argument: 0, Operation: seccomp.BitsNotSet, Value: cloneNewNamespaces}}},
		// The request is an unsigned int: a value with high bits set
		// would pass a NotEqual and still reach the kernel as TIOCSTI.
		seccomp.NameWithConditions{Name: "ioctl", Conditions: []seccomp.Condition{
			{Argument: 1, Operation: seccomp.LessOrEqual, Value: 0xffffffff},
			{Argument: 1, Operation: seccomp.NotEqual, Value: ioctlTIOCSTI},
			{Argument: 1, Operation: seccomp.NotEqual, Value: ioctlTIOCLINUX}}},
	)
	return seccomp.Policy{
		DefaultAction: seccomp.ActionKillProcess,
		Syscalls: []seccomp.SyscallGroup{
			{Names: names, Action: seccomp.ActionAllow},
			{NamesWithCondtions: conditional, Action: seccomp.ActionAllow},
			{Names: supported(info, []string{"clone3"}), Action: seccomp.ActionErrno | seccomp.Action(syscall.ENOSYS)},
		},
	}, nil
}

// Apply sets no_new_privs and loads the seccomp filter of services into
// every thread of the process (TSYNC: the Go runtime has several). It
// cannot be undone.
func Apply(services []string) error {
	p, err := Policy(services)
	if err != nil {
		return err
	}
	if !seccomp.Supported() {
		return fmt.Errorf("sandbox: the kernel has no seccomp filter support")
	}
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: p}); err != nil {
		return fmt.Errorf("sandbox: load the seccomp filter: %w", err)
	}
	return nil
}

// allowed returns the system calls services may make unconditionally on
// the architecture info describes (sorted, each once) and the socket
// families they may open.
func allowed(info *arch.Info, services []string) (names []string, families []uint64) {
	names = slices.Clone(base)
	for _, s := range services {
		names = append(names, extra[s]...)
		families = append(families, socketFamilies[s]...)
	}
	slices.Sort(names)
	slices.Sort(families)
	return supported(info, slices.Compact(names)), slices.Compact(families)
}

// supported keeps the names the architecture has (amd64 has open, stat
// and epoll_wait, arm64 only their *at and pwait forms; 386 has mmap2
// and fstat64 where amd64 has mmap and fstat).
func supported(info *arch.Info, names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := info.SyscallNames[n]; ok {
			out = append(out, n)
		}
	}
	return out
}
