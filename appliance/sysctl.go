package appliance

import (
	"fmt"
	"strings"
)

// Sysctl is one kernel setting init makes at boot.
type Sysctl struct {
	Key, Value string
	Why        string
}

// Sysctls are the settings of a network appliance on a LAN it does not
// control (issue 11). They are set before the drivers load, so that the
// "default" values reach the Ethernet interfaces as they appear.
var Sysctls = []Sysctl{
	{"net.ipv4.conf.all.rp_filter", "1", "drop packets whose source would not be routed back the way they came (spoofing)"},
	{"net.ipv4.conf.default.rp_filter", "1", ""},
	{"net.ipv4.conf.all.accept_redirects", "0", "ICMP redirects: a LAN host cannot reroute the box"},
	{"net.ipv4.conf.default.accept_redirects", "0", ""},
	{"net.ipv4.conf.all.secure_redirects", "0", ""},
	{"net.ipv4.conf.default.secure_redirects", "0", ""},
	{"net.ipv6.conf.all.accept_redirects", "0", ""},
	{"net.ipv6.conf.default.accept_redirects", "0", ""},
	{"net.ipv4.conf.all.send_redirects", "0", "the box is no router"},
	{"net.ipv4.conf.default.send_redirects", "0", ""},
	{"net.ipv4.conf.all.accept_source_route", "0", "source-routed packets"},
	{"net.ipv4.conf.default.accept_source_route", "0", ""},
	{"net.ipv6.conf.all.accept_source_route", "0", ""},
	{"net.ipv6.conf.default.accept_source_route", "0", ""},
	{"net.ipv4.icmp_echo_ignore_broadcasts", "1", "no smurf amplifier"},
	{"net.ipv4.tcp_syncookies", "1", "a SYN flood on DNS's TCP port does not fill the backlog"},
	{"kernel.kptr_restrict", "2", "kernel addresses hidden from every process"},
	{"kernel.dmesg_restrict", "1", "the kernel log only for CAP_SYSLOG"},
	{"kernel.unprivileged_bpf_disabled", "1", "no BPF programs without CAP_BPF (cannot be undone until reboot)"},
	{"net.core.bpf_jit_harden", "2", "constant blinding for every JITed BPF program"},
	{"user.max_user_namespaces", "0", "no user namespaces: nothing on the box needs one, and a service taken over would use one to reach kernel code that needs privilege"},
}

// sysctlPath is the /proc/sys file of a dotted key.
func sysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}

// setSysctls writes each of Sysctls and reads it back; it returns how many
// hold their value, and logs each that does not.
func (in *Init) setSysctls() int {
	ok := 0
	for _, s := range Sysctls {
		p := sysctlPath(s.Key)
		err := in.Sys.WriteSysctl(p, s.Value)
		if err == nil {
			var b []byte
			b, err = in.Sys.ReadFile(p)
			if err == nil && strings.TrimSpace(string(b)) != s.Value {
				err = fmt.Errorf("reads back %q", strings.TrimSpace(string(b)))
			}
		}
		if err != nil {
			in.Log.Warn("sysctl not set", "key", s.Key, "want", s.Value, "err", err)
			continue
		}
		ok++
	}
	in.Log.Info("sysctls set", "ok", ok, "of", len(Sysctls))
	return ok
}
