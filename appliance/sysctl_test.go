package appliance

import (
	"bytes"
	"strings"
	"testing"
)

// TestSysctls: init writes each hardening sysctl and reads it back; one
// the kernel lacks is a warning naming it, and the others still hold.
func TestSysctls(t *testing.T) {
	sys := newFakeSystem("")
	var logs bytes.Buffer
	in := &Init{Sys: sys, Log: newSlog(&logs)}
	if got, want := in.setSysctls(), len(Sysctls)-1; got != want {
		t.Errorf("%d set, want %d", got, want)
	}
	for _, s := range Sysctls {
		got := strings.TrimSpace(sys.File(sysctlPath(s.Key)))
		if s.Key == "net.core.bpf_jit_harden" {
			continue
		}
		if got != s.Value {
			t.Errorf("%s = %q, want %q", s.Key, got, s.Value)
		}
	}
	if p := sysctlPath("net.ipv4.conf.all.rp_filter"); p != "/proc/sys/net/ipv4/conf/all/rp_filter" {
		t.Errorf("path %s", p)
	}
	for _, want := range []string{`msg="sysctl not set" key=net.core.bpf_jit_harden want=2`, `msg="sysctls set" ok=20 of=21`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	for _, key := range []string{"rp_filter", "accept_redirects", "send_redirects", "accept_source_route", "tcp_syncookies",
		"kptr_restrict", "dmesg_restrict", "unprivileged_bpf_disabled"} {
		if !strings.Contains(logs.String()+sysctlKeys(), key) {
			t.Errorf("no sysctl for %s", key)
		}
	}
}

func sysctlKeys() string {
	var b strings.Builder
	for _, s := range Sysctls {
		b.WriteString(s.Key + " ")
	}
	return b.String()
}
