package sandbox

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
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
