//go:build linux

package appliance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"
)

// kmodLoader loads module files into the kernel. The image's modules are
// zstd-compressed and Debian's kernel cannot decompress them itself
// (no CONFIG_MODULE_DECOMPRESS), so they are decompressed here, by one
// decoder kept for the boot: u-root's kmodule makes a new decoder per
// module and never closes it, 4x the time and 5x the garbage (22 MB
// for the image's drivers), which under QEMU's TCG was 100-250 ms of a
// boot.
type kmodLoader struct {
	dir string
	dec *zstd.Decoder
}

func newKmodLoader(dir string) (*kmodLoader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return &kmodLoader{dir: dir, dec: dec}, nil
}

// load loads one module file (relative to dir). A module the kernel
// has already is not an error.
func (k *kmodLoader) load(file string) error {
	p := filepath.Join(k.dir, file)
	var err error
	switch {
	case strings.HasSuffix(file, ".ko.zst"):
		var b, img []byte
		if b, err = os.ReadFile(p); err != nil {
			return err
		}
		if img, err = k.dec.DecodeAll(b, nil); err != nil {
			return fmt.Errorf("decompress %s: %w", file, err)
		}
		err = unix.InitModule(img, "")
	default: // .ko through finit_module; .ko.xz and .ko.gz as kmodule does them
		var f *os.File
		if f, err = os.Open(p); err != nil {
			return err
		}
		err = kmodule.FileInit(f, "", 0)
		f.Close()
	}
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// procModules returns the names of the modules in the kernel: those
// loaded (/proc/modules) and those built in that sysfs shows
// (/sys/module, arm64's mmc_block among them), which the image's
// modules.dep leaves out.
func procModules() map[string]bool {
	m := map[string]bool{}
	if ents, err := os.ReadDir("/sys/module"); err == nil {
		for _, e := range ents {
			m[e.Name()] = true
		}
	}
	b, _ := os.ReadFile("/proc/modules")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			m[f[0]] = true
		}
	}
	return m
}
