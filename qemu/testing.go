package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Image is a built image: `make image` writes one to out/image.
type Image struct {
	Kernel, Initramfs string
}

// FindImage returns the image in NTPBOX_IMAGE (a directory), or else in
// out/image of the repository that holds the current directory.
func FindImage() Image {
	dir := os.Getenv("NTPBOX_IMAGE")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "out", "image")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return Image{Kernel: filepath.Join(dir, "vmlinux"), Initramfs: filepath.Join(dir, "initramfs.cpio.gz")}
}

// RequireT skips the test when root, QEMU, the image or one of tools is
// missing, unless NTPBOX_REQUIRE_TOOLS=1 (`make test`, CI), where that
// fails it.
func RequireT(t testing.TB, img Image, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range append([]string{"qemu-system-x86_64", "ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, f := range []string{img.Kernel, img.Initramfs} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f+" (make image)")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
		t.Fatalf("missing %v (make deps image installs and builds them; tests need root)", missing)
	}
	t.Skipf("missing %v; run as root after `make deps image`", missing)
}

// NewLabT is NewLab for a test: the namespaces go at cleanup.
func NewLabT(t testing.TB) *Lab {
	t.Helper()
	l, err := NewLab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// StartT starts a VM for a test: its console goes to t.Logf, and it is
// killed at cleanup.
func StartT(t testing.TB, c Config) *VM {
	t.Helper()
	if c.Console == nil {
		c.Console = func(at time.Duration, line string) { t.Logf("console %6.2fs| %s", at.Seconds(), line) }
	}
	vm, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	return vm
}
