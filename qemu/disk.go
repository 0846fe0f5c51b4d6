package qemu

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PartitionOffset is where the disk image's FAT partition starts
// (build/disk.sh): 1 MiB, in mtools' "IMAGE@@OFFSET" syntax.
const PartitionOffset = "1M"

// DiskFile is a file on the FAT partition of a disk image, reached with
// mtools: nothing is mounted.
type DiskFile struct{ Disk, Name string }

func (f DiskFile) target() string { return "::/" + strings.TrimPrefix(f.Name, "/") }

func (f DiskFile) mtools(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, append([]string{"-i", f.Disk + "@@" + PartitionOffset}, args...)...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	return cmd
}

// Write replaces the file with data (mcopy -o).
func (f DiskFile) Write(data []byte) error {
	tmp, err := os.CreateTemp("", "ntpbox-mcopy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if out, err := f.mtools("mcopy", "-o", tmp.Name(), f.target()).CombinedOutput(); err != nil {
		return fmt.Errorf("mcopy to %s on %s: %v: %s", f.Name, f.Disk, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Read returns the file's contents (mtype).
func (f DiskFile) Read() ([]byte, error) {
	cmd := f.mtools("mtype", f.target())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("mtype %s on %s: %v: %s", f.Name, f.Disk, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// CopyT copies the file src into the test's temporary directory and
// returns the copy's path: a disk a test may write.
func CopyT(t testing.TB, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
