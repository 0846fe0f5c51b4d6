package qemu

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Lab addresses, from 198.18.0.0/15 (RFC 2544's benchmarking range).
const (
	LabClientAddr = "198.18.0.10" // the client namespace's eth0
	LabPrefixLen  = 24
	LabVMAddr     = "198.18.0.2" // what the tests give the VM
	// LabHostAddr is on the bridge in the VM's namespace: a server run
	// there (an upstream for the VM) is reachable from the VM and from
	// the client namespace.
	LabHostAddr = "198.18.0.1"
)

// Lab is a throwaway test network: namespace VMNetns holds a bridge with
// QEMU's tap (Tap) and one end of a veth pair whose other end is eth0 in
// namespace ClientNetns (198.18.0.10/24); the bridge itself has
// 198.18.0.1/24 (LabHostAddr). Close removes both namespaces.
type Lab struct {
	VMNetns, ClientNetns string
	Tap                  string
	extra                []string // namespaces made by AddNetns
}

// NewLab creates the namespaces; on error it removes what it made.
func NewLab() (*Lab, error) {
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	l := &Lab{VMNetns: "ntpbox-vm-" + id, ClientNetns: "ntpbox-cl-" + id, Tap: "tap0"}
	steps := [][]string{
		{"netns", "add", l.VMNetns},
		{"netns", "add", l.ClientNetns},
		{"-n", l.VMNetns, "link", "set", "lo", "up"},
		{"-n", l.ClientNetns, "link", "set", "lo", "up"},
		{"-n", l.VMNetns, "link", "add", "br0", "type", "bridge"},
		{"-n", l.VMNetns, "link", "set", "br0", "up"},
		{"-n", l.VMNetns, "addr", "add", fmt.Sprintf("%s/%d", LabHostAddr, LabPrefixLen), "dev", "br0"},
		{"-n", l.VMNetns, "tuntap", "add", "dev", l.Tap, "mode", "tap"},
		{"-n", l.VMNetns, "link", "set", l.Tap, "master", "br0", "up"},
		{"-n", l.VMNetns, "link", "add", "vcl", "type", "veth", "peer", "name", "eth0", "netns", l.ClientNetns},
		{"-n", l.VMNetns, "link", "set", "vcl", "master", "br0", "up"},
		{"-n", l.ClientNetns, "link", "set", "eth0", "up"},
		{"-n", l.ClientNetns, "addr", "add", fmt.Sprintf("%s/%d", LabClientAddr, LabPrefixLen), "dev", "eth0"},
	}
	if err := ipSteps(steps); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Client returns a command that runs in the client namespace.
func (l *Lab) Client(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ClientNetns, name}, args...)...)
}

// Host returns a command that runs in the VM's namespace, where
// LabHostAddr is.
func (l *Lab) Host(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.VMNetns, name}, args...)...)
}

// AddTap adds another tap device on the bridge, for a second VM on the
// same segment (start it with a different MAC).
func (l *Lab) AddTap(name string) error {
	return ipSteps([][]string{
		{"-n", l.VMNetns, "tuntap", "add", "dev", name, "mode", "tap"},
		{"-n", l.VMNetns, "link", "set", name, "master", "br0", "up"},
	})
}

// AddNetns creates another namespace on the lab's segment: its eth0 is a
// veth whose peer is on the bridge, with addr (ADDR/LEN, "" for none).
// The name is the lab's with the role in it (ntpbox-ROLE-ID, ROLE at most
// 6 letters); Close removes it.
func (l *Lab) AddNetns(role, addr string) (string, error) {
	id := strings.TrimPrefix(l.VMNetns, "ntpbox-vm-")
	ns := "ntpbox-" + role + "-" + id
	peer := "v" + role
	if len(peer) > 15 {
		return "", fmt.Errorf("role %q: too long for an interface name", role)
	}
	if err := ipSteps([][]string{{"netns", "add", ns}}); err != nil {
		return "", err
	}
	l.extra = append(l.extra, ns)
	steps := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", l.VMNetns, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", l.VMNetns, "link", "set", peer, "master", "br0", "up"},
		{"-n", ns, "link", "set", "eth0", "up"},
	}
	if addr != "" {
		steps = append(steps, []string{"-n", ns, "addr", "add", addr, "dev", "eth0"})
	}
	return ns, ipSteps(steps)
}

// In returns a command that runs in namespace ns.
func In(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

func ipSteps(steps [][]string) error {
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// Close removes the namespaces, and with them the bridge, taps and veths.
func (l *Lab) Close() error {
	var errs []error
	for _, ns := range append([]string{l.VMNetns, l.ClientNetns}, l.extra...) {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}
