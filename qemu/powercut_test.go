//go:build linux

package qemu_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/ntpbox/ntpbox/initramfs"
	"github.com/ntpbox/ntpbox/qemu"
)

// powercutInitramfs builds cmd/persist-powercut and returns an initramfs
// that is the image's (for its modules) followed by a second archive
// whose /init is that program: the kernel unpacks both, the second over
// the first.
func powercutInitramfs(t *testing.T, img qemu.Image) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "init")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/persist-powercut")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/persist-powercut: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(img.Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Write(base)
	// An uncompressed archive must start at a multiple of 4 bytes; the
	// kernel skips the zeros before it.
	buf.Write(make([]byte, (4-len(base)%4)%4))
	if err := initramfs.Write(&buf, []cpio.Record{cpio.StaticFile("init", string(prog), 0o755)}, false); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "initramfs.img")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// fatDisk writes a 40 MiB disk with an MBR and one FAT32 partition at 1
// MiB with 512-byte clusters, as build/disk.sh makes the image's.
func fatDisk(t *testing.T) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "fat.img")
	const mib = 40
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, mib<<20); err != nil {
		t.Fatal(err)
	}
	sfdisk := exec.Command("sfdisk", "-q", disk)
	sfdisk.Stdin = strings.NewReader("label: dos\nstart=2048, type=c\n")
	if out, err := sfdisk.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	kib := (mib<<20/512 - 2048) / 2
	mkfs := exec.Command("mkfs.fat", "-F", "32", "-s", "1", "-n", "PERM", "--offset", "2048", disk, strconv.Itoa(kib))
	if out, err := mkfs.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v: %s", err, out)
	}
	return disk
}

var (
	readLine  = regexp.MustCompile(`^powercut: read (none|[0-9]+)$`)
	wroteLine = regexp.MustCompile(`^powercut: (writing|wrote) ([0-9]+)`)
)

// The power goes (QEMU is killed) while the guest writes a file on FAT
// with package persist, over and over, through the kernel's vfat, at a
// random moment: each next boot reads back the last version the guest
// finished writing, or the one it was writing, never garbage and never
// nothing, and writes on (a copy the kernel cannot read, its size beyond
// its cluster chain, is removed and written afresh; the partition is
// mounted with errors=continue, as /perm is). (The guest says "writing N", and waits until the serial port
// has sent it, before each write, and "wrote N" after it.) The guest
// also removes a temporary file atomicfile would have left.
func TestPersistPowerCut(t *testing.T) {
	img := qemu.FindImage()
	qemu.RequireT(t, img, "go", "sfdisk", "mkfs.fat", "mcopy", "mtype")
	initrd := powercutInitramfs(t, img)
	disk := fatDisk(t)
	if err := (qemu.DiskFile{Disk: disk, Name: ".state.tmp123456"}).Write([]byte("half a")); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if n, err := strconv.ParseUint(os.Getenv("NTPBOX_POWERCUT_SEED"), 10, 64); err == nil {
		seed = n // to replay the cut times of a failed run
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random seed %d", seed)

	rounds := 6
	if n, err := strconv.Atoi(os.Getenv("NTPBOX_POWERCUT_ROUNDS")); err == nil && n > 0 {
		rounds = n // for a longer run by hand
	}
	acked, started := 0, 0   // the last version the guest said it had written, had begun to
	torn, unreadable := 0, 0 // boots that found a copy torn, or unreadable
	for r := 0; r <= rounds; r++ {
		mode := "write"
		if r == rounds {
			mode = "read"
		}
		vm := qemu.StartT(t, qemu.Config{Kernel: img.Kernel, Initramfs: initrd,
			// The guest's block writes are throttled to 20 a second, so
			// that a write's few block writes (data, directory entry,
			// FAT) are spread over time and the cut can fall between
			// them; otherwise QEMU does them within microseconds, and a
			// cut leaves the file written or not, never torn. A killed
			// QEMU loses no block write it made: the host's page cache
			// keeps them.
			Extra:  []string{"-drive", "file=" + disk + ",format=raw,if=virtio,throttling.iops-write=20"},
			Append: []string{"quiet", "powercut.mode=" + mode, "powercut.flush=" + strconv.Itoa(r%2)},
			Console: func(at time.Duration, line string) {
				if !wroteLine.MatchString(line) {
					t.Logf("boot %d %6.2fs| %s", r, at.Seconds(), line)
				}
			}})
		l, err := vm.Expect("powercut: read ", bootTimeout)
		if err != nil {
			t.Fatal(err)
		}
		m := readLine.FindStringSubmatch(l.Text)
		if m == nil {
			t.Fatalf("boot %d: %q", r, l.Text)
		}
		got := 0
		if m[1] != "none" {
			got, _ = strconv.Atoi(m[1])
		}
		if got < acked || got > max(started, acked) || r > 0 && got == 0 {
			t.Fatalf("boot %d read version %d; the last one written was %d, begun %d", r, got, acked, started)
		}
		if copies := vm.Lines()[lineIndex(t, vm.Lines(), "powercut: copies")].Text; strings.Contains(copies, "torn") {
			torn++
		} else if strings.Contains(copies, "unreadable") {
			unreadable++
		}
		if r == 0 && !hasLine(vm, "powercut: removed /mnt/.state.tmp123456") {
			t.Errorf("the stale temporary file was not removed")
		}
		if hasLine(vm, "powercut: error") {
			t.Errorf("boot %d: %s", r, vm.Lines()[lineIndex(t, vm.Lines(), "powercut: error")].Text)
		}
		if mode == "read" {
			if err := vm.Wait(stopTimeout); err != nil {
				t.Fatal(err)
			}
			acked = got
			break
		}
		cut := time.Duration(200+rng.IntN(1300)) * time.Millisecond
		time.Sleep(cut)
		vm.Kill()
		if hasLine(vm, "powercut: error") {
			t.Fatalf("boot %d: %s", r, vm.Lines()[lineIndex(t, vm.Lines(), "powercut: error")].Text)
		}
		acked, started = got, got
		share := ""
		for _, l := range vm.Lines() {
			if strings.HasPrefix(l.Text, "powercut: wrote ") && strings.HasSuffix(l.Text, ")") {
				share = l.Text[strings.Index(l.Text, "("):]
			}
			if m := wroteLine.FindStringSubmatch(l.Text); m != nil {
				n, _ := strconv.Atoi(m[2])
				if m[1] == "wrote" {
					acked = n
				} else {
					started = n
				}
			}
		}
		t.Logf("boot %d: read %d, wrote up to %d %s, power cut %v after the read, while writing %d", r, got, acked, share, cut, started)
	}

	t.Logf("%d power cuts; %d boots found a torn copy, %d an unreadable one, and read the other", rounds, torn, unreadable)
	b, err := (qemu.DiskFile{Disk: disk, Name: "state"}).ReadPersisted()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("version %d\n", acked); !bytes.HasPrefix(b, []byte(want)) {
		t.Errorf("mtools reads %q..., want %q", b[:min(len(b), 20)], want)
	}
}

func hasLine(vm *qemu.VM, s string) bool {
	for _, l := range vm.Lines() {
		if strings.Contains(l.Text, s) {
			return true
		}
	}
	return false
}
