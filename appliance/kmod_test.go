package appliance

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const modulesDep = `kernel/drivers/net/virtio_net.ko.zst: kernel/drivers/net/net_failover.ko.zst kernel/net/core/failover.ko.zst kernel/drivers/virtio/virtio_ring.ko.zst kernel/drivers/virtio/virtio.ko.zst
kernel/drivers/virtio/virtio_pci.ko.zst: kernel/drivers/virtio/virtio_pci_modern_dev.ko.zst kernel/drivers/virtio/virtio_ring.ko.zst kernel/drivers/virtio/virtio.ko.zst
kernel/drivers/net/net_failover.ko.zst: kernel/net/core/failover.ko.zst
kernel/net/core/failover.ko.zst:
kernel/drivers/virtio/virtio_ring.ko.zst:
kernel/drivers/virtio/virtio.ko.zst: kernel/drivers/virtio/virtio_ring.ko.zst
kernel/drivers/virtio/virtio_pci_modern_dev.ko.zst:
kernel/drivers/usb/storage/usb-storage.ko:
kernel/fs/loop-a.ko.zst: kernel/fs/loop-b.ko.zst
kernel/fs/loop-b.ko.zst: kernel/fs/loop-a.ko.zst
`

// Each module is loaded after what it needs, once, whatever order
// modules.dep lists the needs in; names match with '-' or '_'.
func TestModuleDepsLoadOrder(t *testing.T) {
	md, err := ParseModuleDeps(strings.NewReader(modulesDep))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	load := func(file string) error { got = append(got, ModuleName(file)); return nil }
	loaded := map[string]bool{"failover": true} // in the kernel already
	for _, m := range []string{"virtio_pci", "virtio_net", "usb_storage", "usb-storage"} {
		if err := md.Load(m, loaded, load); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci", "net_failover", "virtio_net", "usb_storage"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
	if err := md.Load("e1000", loaded, load); err == nil || !strings.Contains(err.Error(), "e1000: not in modules.dep") {
		t.Errorf("a module not in modules.dep: err = %v", err)
	}
	loaded["mmc_block"] = true // built in: sysfs has it, modules.dep does not
	if err := md.Load("mmc_block", loaded, load); err != nil {
		t.Errorf("a built-in module: %v", err)
	}
	if err := md.Load("loop_a", loaded, load); err == nil || !strings.Contains(err.Error(), "circular") {
		t.Errorf("a dependency cycle: err = %v", err)
	}
	// A failed dependency stops the module, naming both.
	failing := func(file string) error {
		if ModuleName(file) == "virtio_ring" {
			return errors.New("exec format error")
		}
		return nil
	}
	err = md.Load("virtio_net", map[string]bool{}, failing)
	if err == nil || !strings.Contains(err.Error(), "virtio_ring") || !strings.Contains(err.Error(), "exec format error") {
		t.Errorf("a failing dependency: err = %v", err)
	}
}

func TestParseModuleDepsBadLine(t *testing.T) {
	for _, in := range []string{"kernel/x.ko.zst kernel/y.ko\n", ": kernel/y.ko\n", "README: x\n"} {
		if _, err := ParseModuleDeps(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "modules.dep:1") {
			t.Errorf("%q: err = %v, want one naming modules.dep:1", in, err)
		}
	}
}

// FuzzModuleDeps: any modules.dep parses or is refused, and loading
// each of its modules ends (no endless recursion on cycles), loading
// each file at most once.
func FuzzModuleDeps(f *testing.F) {
	f.Add(modulesDep)
	f.Add("a.ko: b.ko\nb.ko: a.ko\n")
	f.Add("a.ko: a.ko\n")
	f.Fuzz(func(t *testing.T, in string) {
		md, err := ParseModuleDeps(strings.NewReader(in))
		if err != nil {
			return
		}
		loaded := map[string]bool{}
		seen := map[string]bool{}
		for name := range md.file {
			md.Load(name, loaded, func(file string) error {
				if seen[file] {
					t.Fatalf("%s loaded twice", file)
				}
				seen[file] = true
				return nil
			})
		}
	})
}
