package qemu

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Image is a built image: `make image` writes one to out/image.
type Image struct {
	Kernel, Initramfs string
	Disk              string // the disk image (build/disk.sh)
	Manifest          string // manifest.txt
}

// BuildTime is the image's build time, init's floor for the clock, from
// the first line of its manifest ("... built 2026-11-26T03:00:00Z").
func (img Image) BuildTime() (time.Time, error) {
	b, err := os.ReadFile(img.Manifest)
	if err != nil {
		return time.Time{}, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	_, s, ok := strings.Cut(first, " built ")
	if !ok {
		return time.Time{}, fmt.Errorf("%s: no build time in %q (make image)", img.Manifest, first)
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(s))
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
	return FindImageIn(dir)
}

// ArchImage is the image `make image ARCH=arch` wrote to dir (for 386,
// out/image/386): the same files, with the disk image ntpbox-ARCH.img;
// but other than for amd64 the kernel is vmlinuz (no PVH entry, no vmlinux).
func ArchImage(dir, arch string) Image {
	img := FindImageIn(dir)
	img.Disk = filepath.Join(dir, "ntpbox-"+arch+".img")
	if arch != "amd64" {
		img.Kernel = filepath.Join(dir, "vmlinuz")
	}
	return img
}

// FindImageIn is the amd64 image in dir.
func FindImageIn(dir string) Image {
	return Image{Kernel: filepath.Join(dir, "vmlinux"), Initramfs: filepath.Join(dir, "initramfs.cpio.zst"),
		Disk: filepath.Join(dir, "ntpbox-amd64.img"), Manifest: filepath.Join(dir, "manifest.txt")}
}

// Binaries are the QEMU system emulators by Go architecture.
var Binaries = map[string]string{"amd64": "qemu-system-x86_64", "386": "qemu-system-i386"}

// MinMemoryMiB is the smallest QEMU -m the manifest records (`make
// image` with MIN_MEMORY_ARCH), or 0 when it records none.
func (img Image) MinMemoryMiB() (int, error) {
	b, err := os.ReadFile(img.Manifest)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "# smallest memory: "); ok {
			var mib int
			if _, err := fmt.Sscanf(rest, "%d MiB", &mib); err != nil || mib <= 0 {
				return 0, fmt.Errorf("%s: bad line %q", img.Manifest, line)
			}
			return mib, nil
		}
	}
	return 0, nil
}

// RequireT skips the test when root, QEMU, the image or one of tools (a
// command, or a file when it has a '/') is missing, unless NTPBOX_REQUIRE_TOOLS=1 (`make test`, CI), where that
// fails it.
func RequireT(t testing.TB, img Image, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range append([]string{"qemu-system-x86_64", "ip"}, tools...) {
		var err error
		if strings.Contains(tool, "/") {
			_, err = os.Stat(tool)
		} else {
			_, err = exec.LookPath(tool)
		}
		if err != nil {
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

// UpstreamT runs chronyd in the VM's namespace as an NTP server at
// LabHostAddr that serves the host's clock at the given stratum (`local
// stratum N`), for a VM to synchronise to. It runs with -x and without
// CAP_SYS_TIME in its bounding set: it only reads the host's clock. It is
// stopped at cleanup, or by the function it returns.
func (l *Lab) UpstreamT(t testing.TB, stratum int) (stop func()) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "chrony.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`bindaddress %s
allow all
local stratum %d
cmdport 0
bindcmdaddress /
pidfile %s
`, LabHostAddr, stratum, filepath.Join(dir, "chronyd.pid"))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := l.Host("setpriv", "--bounding-set", "-sys_time", "--", "chronyd", "-x", "-d", "-u", "root", "-f", conf)
	out := NewLogWriter(t, "upstream chronyd| ")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start upstream chronyd: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// LogWriter writes what it gets to t.Logf, a line at a time, each with
// prefix, and keeps the lines: a process's output in a test's log.
type LogWriter struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	buf    []byte
	lines  []string
}

// NewLogWriter returns a LogWriter for t.
func NewLogWriter(t testing.TB, prefix string) *LogWriter {
	return &LogWriter{t: t, prefix: prefix}
}

// Lines returns the lines written so far.
func (w *LogWriter) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.t.Logf("%s%s", w.prefix, w.buf[:i])
		w.lines = append(w.lines, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}
