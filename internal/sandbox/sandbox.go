// Package sandbox confines a service process of the appliance: the
// no_new_privs bit and a seccomp filter that allows the system calls the
// service needs and kills the process on any other (issue 11). The user
// and the capabilities are set by init when it starts the process (see
// package appliance); this is the part a process does to itself, before
// it reads a packet from the LAN.
//
// The allow-lists are per service: only the NTP service may set the
// clock, only the DHCP service may open packet sockets (the ARP check of
// an address before it is offered, DHCP auto's probe), and none may
// execute a program, trace a process, load a module or a BPF program,
// mount, reboot or change its credentials.
package sandbox

import "fmt"

// Service names, as `ntpbox serve --service` takes them.
const (
	NTP  = "ntp"
	DHCP = "dhcp"
	DNS  = "dns"
	// Web is the status page and /metrics (`http`): TCP on the LAN and
	// the other services' unix sockets; nothing more.
	Web = "web"
)

// base are the system calls every service needs: the Go runtime
// (threads, memory, signals, timers, the network poller), files (the
// config it follows, the state it writes atomically: drift, leases),
// sockets (UDP and TCP on the LAN, netlink for the links, the control
// socket), and its own limits and identity.
var base = []string{
	// Go runtime: threads, memory, scheduling, signals, time.
	"arch_prctl", "brk", "exit", "exit_group", "futex", "getpid", "gettid", "getppid",
	"madvise", "mmap", "mprotect", "munmap", "mremap", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
	"gettimeofday", "time", "restart_syscall", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"sched_getaffinity", "sched_yield", "set_robust_list", "set_tid_address", "tgkill", "tkill", "getrandom", "uname",
	"getrlimit", "prlimit64", "getuid", "geteuid", "getgid", "getegid", "getgroups", "capget",
	// The network poller, pipes and events.
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd2",
	"pipe", "pipe2", "poll", "ppoll", "pselect6", "select",
	// Files.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "fcntl", "dup", "dup2", "dup3", "lseek",
	"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "fstatfs", "statfs", "readlink", "readlinkat",
	"access", "faccessat", "faccessat2", "getdents64", "getcwd",
	// linux/386 multiplexes the socket calls through socketcall, whose
	// arguments are in memory a filter cannot read: there, no family
	// check (the capabilities still keep packet sockets to DHCP, the
	// only service with CAP_NET_RAW).
	"socketcall",
	"fsync", "fdatasync", "ftruncate", "rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat",
	"fchmod", "fchmodat", "chmod", "umask", "flock",
	// Sockets (the families are checked in socketFamilies).
	"bind", "listen", "accept", "accept4", "connect", "shutdown", "getsockname", "getpeername",
	"setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "socketpair",
	// The 32-bit forms linux/386's Go runtime and syscall package use
	// (64-bit offsets and sizes, 32-bit ids, time64): the same calls as
	// above, under other numbers. Names an architecture lacks are
	// dropped from its filter (supported).
	"mmap2", "set_thread_area", "futex_time64", "_llseek", "fstat64", "stat64", "lstat64", "fstatat64", "fcntl64",
	"ugetrlimit", "getuid32", "geteuid32", "getgid32", "getegid32", "getgroups32", "ftruncate64", "fstatfs64",
	"statfs64", "_newselect", "clock_gettime64", "clock_getres_time64", "clock_nanosleep_time64",
	"pselect6_time64", "ppoll_time64", "recvmmsg_time64",
	// clone and ioctl are allowed with conditions (sandbox_linux.go):
	// clone without a namespace flag, ioctl without TIOCSTI or
	// TIOCLINUX (keystrokes into the console); clone3, whose flags a
	// filter cannot read, fails with ENOSYS, so that a caller falls back
	// to clone. prctl is not allowed: nothing calls it once the filter
	// is in place.
}

// Flags of clone (<linux/sched.h>) that make new namespaces.
const cloneNewNamespaces = 0x00020000 | // CLONE_NEWNS
	0x02000000 | // CLONE_NEWCGROUP
	0x04000000 | // CLONE_NEWUTS
	0x08000000 | // CLONE_NEWIPC
	0x10000000 | // CLONE_NEWUSER
	0x20000000 | // CLONE_NEWPID
	0x40000000 // CLONE_NEWNET

// ioctls no service may make (<asm-generic/ioctls.h>): TIOCSTI pushes
// bytes into a terminal's input, TIOCLINUX selects and pastes on the
// virtual console; the services' stderr is the console.
const (
	ioctlTIOCSTI   = 0x5412
	ioctlTIOCLINUX = 0x541C
)

// extra are the system calls of one service only.
var extra = map[string][]string{
	NTP: {"adjtimex", "clock_adjtime", "clock_settime", "settimeofday", "clock_adjtime64", "clock_settime64"},
}

// Socket families (<sys/socket.h>).
const (
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
	afPacket  = 17
)

// socketFamilies are the address families a service may open sockets
// of: the Internet, netlink (the links and addresses: package netstate)
// and Unix (the control socket); the DHCP service also packet sockets.
var socketFamilies = map[string][]uint64{
	NTP:  {afUnix, afInet, afInet6, afNetlink},
	DHCP: {afUnix, afInet, afInet6, afNetlink, afPacket},
	DNS:  {afUnix, afInet, afInet6, afNetlink},
	Web:  {afUnix, afInet, afInet6, afNetlink},
}

// Check reports whether services names only known services.
func Check(services []string) error {
	for _, s := range services {
		if _, ok := socketFamilies[s]; !ok {
			return fmt.Errorf("sandbox: unknown service %q", s)
		}
	}
	if len(services) == 0 {
		return fmt.Errorf("sandbox: no service named")
	}
	return nil
}
