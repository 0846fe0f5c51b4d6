package sandbox

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestPolicy386 (issue 13): the filter of a linux/386 build names the
// 32-bit system calls its Go runtime and syscall package make (mmap2,
// set_thread_area, futex_time64, fstat64, _llseek, socketcall, ...),
// which amd64 spells otherwise; without them the 386 box's services
// would be killed at their first thread or stat. The runtime's list is
// read from this Go's own runtime/sys_linux_386.s, so a Go that starts
// using another call fails here. (This machine cannot run a 386
// binary; the 386 VM test runs the box's services under the filter.)
func TestPolicy386(t *testing.T) {
	if arch.I386.ID != 0x40000003 { // AUDIT_ARCH_I386: EM_386 | __AUDIT_ARCH_LE
		t.Fatalf("the seccomp library's i386 audit arch is %#x", arch.I386.ID)
	}
	src, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src/runtime/sys_linux_386.s"))
	if err != nil {
		t.Fatal(err)
	}
	var rt []string
	for _, m := range regexp.MustCompile(`(?m)^#define SYS_(\w+)`).FindAllSubmatch(src, -1) {
		rt = append(rt, string(m[1]))
	}
	if len(rt) < 20 {
		t.Fatalf("read %d system calls from sys_linux_386.s: %v", len(rt), rt)
	}
	// What the runtime does only for signals to itself it never sends,
	// or for the CPU profiler: not on amd64's list either.
	notNeeded := []string{"kill", "setittimer", "timer_create", "timer_settime", "timer_settime64", "timer_delete", "mincore"}
	amd64, _ := allowed(arch.X86_64, []string{NTP, DHCP, DNS, Web})
	for _, n := range notNeeded {
		if slices.Contains(amd64, n) {
			t.Errorf("%s is allowed on amd64 but not required on 386", n)
		}
	}
	// What the syscall and x/sys/unix packages use on 386 for files,
	// ids, limits and sockets.
	lib := []string{"fstat64", "fstatat64", "fcntl64", "_llseek", "ftruncate64", "fstatfs64", "getdents64",
		"getuid32", "geteuid32", "getgid32", "getegid32", "prlimit64", "pread64", "pwrite64", "socketcall",
		"recvmmsg", "sendmmsg", "epoll_pwait", "epoll_ctl", "openat", "renameat", "unlinkat"}
	for _, svc := range []string{NTP, DHCP, DNS, Web} {
		names, _ := allowed(arch.I386, []string{svc})
		for _, n := range append(slices.Clone(lib), rt...) {
			if slices.Contains(notNeeded, n) || n == "clone" { // clone: allowed with conditions
				continue
			}
			if _, ok := arch.I386.SyscallNames[n]; !ok {
				t.Errorf("%s: the seccomp library's i386 table has no %s", svc, n)
			} else if !slices.Contains(names, n) {
				t.Errorf("%s on 386: %s is not allowed", svc, n)
			}
		}
		// The clock only for NTP, in both its 32-bit and time64 forms.
		for _, n := range []string{"clock_settime", "clock_settime64", "clock_adjtime64", "adjtimex", "settimeofday"} {
			if got := slices.Contains(names, n); got != (svc == NTP) {
				t.Errorf("%s on 386: %s allowed = %v", svc, n, got)
			}
		}
		// amd64-only names are not in the 386 filter (the table would not
		// know them), and the reverse.
		for _, n := range []string{"newfstatat"} {
			if slices.Contains(names, n) {
				t.Errorf("%s on 386: %s (amd64 only) is in the filter", svc, n)
			}
		}
		a, _ := allowed(arch.X86_64, []string{svc})
		for _, n := range []string{"mmap2", "socketcall", "fstat64", "_llseek"} {
			if slices.Contains(a, n) {
				t.Errorf("%s on amd64: %s (32-bit only) is in the filter", svc, n)
			}
		}
	}
}

// TestPolicyARM64 (issue 13): the filter of a linux/arm64 build allows,
// by number, every system call Go's arm64 runtime makes (read from this
// Go's runtime/sys_linux_arm64.s) and those its syscall package makes
// for the box's files, sockets and ids (numbers from
// syscall/zsysnum_linux_arm64.go). arm64 has no open, stat, poll,
// epoll_wait, pipe or dup2, only the *at, pwait and 2/3 forms; its stat
// is number 79, which Go calls SYS_FSTATAT and the seccomp library
// "fstatat" (amd64's newfstatat): without it every os.Stat of an arm64
// service would kill it. The arm64 VM test runs the services under the
// filter.
func TestPolicyARM64(t *testing.T) {
	if arch.AARCH64.ID != 0xc00000b7 { // AUDIT_ARCH_AARCH64: EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
		t.Fatalf("the seccomp library's aarch64 audit arch is %#x", uint32(arch.AARCH64.ID))
	}
	if info, err := arch.GetInfo("arm64"); err != nil || info != arch.AARCH64 {
		t.Fatalf("GetInfo(arm64) = %v, %v", info, err)
	}
	goroot := runtime.GOROOT()
	src, err := os.ReadFile(filepath.Join(goroot, "src/runtime/sys_linux_arm64.s"))
	if err != nil {
		t.Fatal(err)
	}
	rt := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define SYS_(\w+)\s+(\d+)`).FindAllSubmatch(src, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		rt[string(m[1])] = n
	}
	if len(rt) < 20 {
		t.Fatalf("read %d system calls from sys_linux_arm64.s: %v", len(rt), rt)
	}
	sysnum, err := os.ReadFile(filepath.Join(goroot, "src/syscall/zsysnum_linux_arm64.go"))
	if err != nil {
		t.Fatal(err)
	}
	num := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s+SYS_(\w+)\s+= (\d+)`).FindAllSubmatch(sysnum, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		num[string(m[1])] = n
	}
	// What the syscall, os, net and x/sys/unix packages use on arm64 for
	// the box's files, ids, limits, the poller and sockets (Go's names).
	lib := []string{"OPENAT", "FSTATAT", "FSTAT", "FSTATFS", "STATFS", "FCNTL", "LSEEK", "FTRUNCATE", "GETDENTS64",
		"READLINKAT", "RENAMEAT", "RENAMEAT2", "UNLINKAT", "MKDIRAT", "FCHMODAT", "FACCESSAT", "DUP3", "PIPE2",
		"EPOLL_CREATE1", "EPOLL_CTL", "EPOLL_PWAIT", "PPOLL", "PSELECT6", "PRLIMIT64", "GETRLIMIT", "PREAD64",
		"PWRITE64", "FSYNC", "FDATASYNC", "FLOCK", "GETUID", "GETEUID", "GETGID", "GETEGID", "GETGROUPS",
		"SOCKET", "BIND", "LISTEN", "ACCEPT4", "CONNECT", "GETSOCKNAME", "GETPEERNAME", "SETSOCKOPT",
		"GETSOCKOPT", "SENDTO", "RECVFROM", "SENDMSG", "RECVMSG", "SENDMMSG", "RECVMMSG", "SOCKETPAIR",
		"SHUTDOWN", "UNAME", "GETRANDOM", "CLOCK_GETTIME", "IOCTL", "CLONE"}
	want := map[string]int{}
	for _, n := range lib {
		nr, ok := num[n]
		if !ok {
			t.Fatalf("zsysnum_linux_arm64.go has no SYS_%s", n)
		}
		want[n] = nr
	}
	notNeeded := []string{"kill", "setitimer", "timer_create", "timer_settime", "timer_delete", "mincore"}
	for n, nr := range rt {
		if !slices.Contains(notNeeded, n) {
			want[n] = nr
		}
	}
	if nr := want["FSTATAT"]; nr != 79 {
		t.Fatalf("SYS_FSTATAT is %d on arm64", nr)
	}
	for _, svc := range []string{NTP, DHCP, DNS, Web} {
		names, families := allowed(arch.AARCH64, []string{svc})
		for n, nr := range want {
			name, ok := arch.AARCH64.SyscallNumbers[nr]
			switch {
			case !ok:
				t.Errorf("%s: the seccomp library's aarch64 table has no number %d (Go's SYS_%s)", svc, nr, n)
			case name == "clone" || name == "ioctl" || name == "socket": // allowed with conditions
			case !slices.Contains(names, name):
				t.Errorf("%s on arm64: %s (Go's SYS_%s, %d) is not allowed", svc, name, n, nr)
			}
		}
		if len(families) < 4 {
			t.Errorf("%s on arm64: socket families %v", svc, families)
		}
		for _, n := range []string{"clock_settime", "clock_adjtime", "adjtimex", "settimeofday"} {
			if got := slices.Contains(names, n); got != (svc == NTP) {
				t.Errorf("%s on arm64: %s allowed = %v", svc, n, got)
			}
		}
		// What arm64 lacks is not in its filter (the library would not know
		// the names; a number of another architecture would allow
		// something else).
		for _, n := range []string{"open", "stat", "lstat", "poll", "epoll_wait", "pipe", "dup2", "newfstatat",
			"arch_prctl", "mmap2", "socketcall", "fstat64"} {
			if slices.Contains(names, n) {
				t.Errorf("%s on arm64: %s is in the filter", svc, n)
			}
		}
		for _, n := range []string{"execve", "execveat", "ptrace", "mount", "reboot", "init_module", "finit_module",
			"bpf", "setuid", "setresuid", "kexec_load", "unshare", "setns", "pivot_root"} {
			if slices.Contains(names, n) {
				t.Errorf("%s on arm64: %s is allowed", svc, n)
			}
		}
	}
}
