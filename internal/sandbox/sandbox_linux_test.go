package sandbox

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The child side: apply the sandbox of $SANDBOX_SERVICES, then do
// $SANDBOX_DO and exit 0 if it came back.
func TestMain(m *testing.M) {
	if svcs := os.Getenv("SANDBOX_SERVICES"); svcs != "" {
		if err := Apply(strings.Split(svcs, ",")); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		switch os.Getenv("SANDBOX_DO") {
		case "serve":
			// What a service does: sockets of its families, files,
			// goroutines.
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				os.Exit(4)
			}
			c.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				os.Exit(5)
			}
			ln.Close()
			f, err := os.CreateTemp("", "sandbox")
			if err != nil {
				os.Exit(6)
			}
			f.Write([]byte("state"))
			f.Sync()
			f.Close()
			os.Rename(f.Name(), f.Name()+".new")
			os.Remove(f.Name() + ".new")
			done := make(chan struct{})
			go func() { close(done) }()
			<-done
		case "keyctl":
			syscall.Syscall(syscall.SYS_KEYCTL, 0, 0, 0)
		case "execve":
			exec.Command("/bin/true").Run()
		case "packet":
			syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, 0)
		case "clone-newuser":
			// Fork-like clone into a new user namespace; the child, if
			// any, exits at once.
			pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD|syscall.CLONE_NEWUSER), 0, 0, 0, 0, 0)
			if errno == 0 && pid == 0 {
				syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
			}
		case "clone3":
			// clone3 with an empty argument: ENOSYS from the filter
			// (without one, EINVAL or EFAULT); exit 7 on anything else.
			_, _, errno := syscall.Syscall(435 /* clone3 */, 0, 0, 0)
			if errno != syscall.ENOSYS {
				os.Stderr.WriteString("clone3: " + errno.Error())
				os.Exit(7)
			}
		case "tiocsti", "tiocsti-high":
			// TIOCSTI on stdin (whatever it is: the filter decides
			// before the kernel looks); the high bits would be cut.
			req := uint64(0x5412)
			if os.Getenv("SANDBOX_DO") == "tiocsti-high" {
				req |= 1 << 32 // cut to 32 bits on 386, where the filter sees the same
			}
			c := byte('x')
			syscall.Syscall(syscall.SYS_IOCTL, 0, uintptr(req), uintptr(unsafe.Pointer(&c)))
		case "fionread":
			var n int32
			syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		case "prctl":
			syscall.Syscall(syscall.SYS_PRCTL, 16 /* PR_GET_NAME */, uintptr(unsafe.Pointer(new([16]byte))), 0)
		case "adjtimex":
			var tx syscall.Timex // modes 0: reads the clock's state, sets nothing
			syscall.Adjtimex(&tx)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(t *testing.T, services, do string) error {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "SANDBOX_SERVICES="+services, "SANDBOX_DO="+do)
	out, err := c.CombinedOutput()
	if len(out) > 0 {
		t.Logf("%s %s: %s", services, do, out)
	}
	return err
}

func killedBySIGSYS(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGSYS
}

// TestSandbox: each service's filter lets it serve, and kills it on a
// system call outside its list: keyctl and execve for all, the clock for
// all but NTP, packet sockets for all but DHCP; clone into a new
// namespace, prctl and the console's TIOCSTI (also with high bits set
// in the request) for all; clone3 fails with ENOSYS; other ioctls pass.
func TestSandbox(t *testing.T) {
	for _, tc := range []struct {
		services, do string
		killed       bool
	}{
		{"ntp", "serve", false}, {"dhcp", "serve", false}, {"dns", "serve", false}, {"ntp,dhcp,dns", "serve", false},
		{"ntp", "keyctl", true}, {"dhcp", "keyctl", true}, {"dns", "keyctl", true},
		{"ntp", "execve", true}, {"dns", "execve", true},
		{"ntp", "adjtimex", false}, {"dhcp", "adjtimex", true}, {"dns", "adjtimex", true},
		{"dhcp", "packet", false}, {"ntp", "packet", true}, {"dns", "packet", true},
		{"ntp", "clone-newuser", true}, {"dhcp", "clone-newuser", true}, {"ntp,dhcp,dns", "clone-newuser", true},
		{"dns", "clone3", false}, {"ntp", "prctl", true},
		{"dns", "tiocsti", true}, {"dns", "tiocsti-high", true}, {"dhcp", "fionread", false},
	} {
		err := runChild(t, tc.services, tc.do)
		switch {
		case tc.killed && !killedBySIGSYS(err):
			t.Errorf("%s doing %s: %v, want killed by SIGSYS", tc.services, tc.do, err)
		case !tc.killed && err != nil:
			t.Errorf("%s doing %s: %v, want it allowed", tc.services, tc.do, err)
		}
	}
}

func TestPolicyUnknownService(t *testing.T) {
	if _, err := Policy([]string{"ntp", "ssh"}); err == nil || !strings.Contains(err.Error(), `"ssh"`) {
		t.Errorf("err = %v", err)
	}
	if _, err := Policy(nil); err == nil {
		t.Error("no services: no error")
	}
}

// TestPolicyNeverAllows: none of the dangerous calls is on any list.
func TestPolicyNeverAllows(t *testing.T) {
	for _, name := range []string{"execve", "execveat", "ptrace", "mount", "umount2", "reboot", "kexec_load",
		"init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "setuid", "setgid", "setresuid",
		"chroot", "pivot_root", "unshare", "setns", "keyctl", "add_key", "process_vm_writev", "userfaultfd", "io_uring_setup"} {
		for _, svc := range []string{NTP, DHCP, DNS} {
			if slices.Contains(base, name) || slices.Contains(extra[svc], name) {
				t.Errorf("%s allows %s", svc, name)
			}
		}
	}
}
