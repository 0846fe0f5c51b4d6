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
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			l.Close()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
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

// Close removes the namespaces, and with them the bridge, tap and veth.
func (l *Lab) Close() error {
	var errs []error
	for _, ns := range []string{l.VMNetns, l.ClientNetns} {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns, err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}
