package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/ntpbox/ntpbox/internal/atomicfile"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// DefaultModules are the drivers every image carries: the NICs QEMU and
// common PCs have, virtio's PCI transport, what init needs to see the
// ACPI power button (button, evdev), hardware random number generators
// (where a PC has one, the kernel's pool is ready at once; nothing in
// the box waits for it, but its seeds are better for it), and what it needs to mount the
// persistent FAT partition from a virtio, IDE, SATA, NVMe or USB disk,
// and efivarfs (init credits systemd-boot's random seed from an EFI
// variable). Their dependencies come along.
var DefaultModules = []string{
	"virtio_pci", "virtio_net", "e1000", "e1000e", "igb", "r8169", "8139too", "8139cp",
	"pcnet32", "ne2k_pci", "tg3", "bnx2", "atl1c", "alx", "igc", "ixgbe", "sky2", "forcedeth",
	"button", "evdev",
	"virtio_rng", "intel_rng", "amd_rng",
	"virtio_blk", "virtio_scsi", "ata_piix", "ahci", "nvme", "sd_mod",
	"xhci_pci", "ehci_pci", "ohci_pci", "uhci_hcd", "usb_storage", "uas",
	"vfat", "nls_cp437", "nls_ascii", "nls_utf8",
	"efivarfs",
}

// Options are the inputs of [MakeImage].
type Options struct {
	Init      string   // the static ntpbox binary
	Config    string   // the config to bake in as /etc/ntpbox.conf
	KernelDir string   // an unpacked linux-image .deb: boot/vmlinuz-VER and lib/modules/VER
	Modules   []string // modules to include, with their dependencies
	// ModuleDirs adds every module below these directories of the tree
	// (e.g. kernel/drivers/net/ethernet), but for those below
	// ExcludeDirs (unless a module needs them).
	ModuleDirs, ExcludeDirs []string
	CompressModules         bool
	Out                     string // output directory
	// CACerts is the CA bundle to install as
	// /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates
	// package has it at DefaultCACerts); required.
	CACerts string
	// BuildTime is written to /etc/ntpbox-build-time, the floor init
	// puts under the system clock; it must come from the inputs (see
	// [SourceDateEpoch]), not from the clock, so builds repeat.
	BuildTime time.Time
}

// Image is what MakeImage wrote.
type Image struct {
	KernelVersion string
	Files         map[string]int64 // output file -> size
	Manifest      string
}

// InitramfsName is the initramfs MakeImage writes: a newc cpio archive
// compressed with zstd.
const InitramfsName = "initramfs.cpio.zst"

// DefaultExcludeDirs are the data-centre NIC drivers (25 Gbit/s and up,
// SmartNICs) left out of the initramfs to keep it small: together about
// 4 MB compressed, for hardware a spare PC does not have. Intel's ixgbe
// and i40e stay.
var DefaultExcludeDirs = []string{
	"kernel/drivers/net/ethernet/mellanox", "kernel/drivers/net/ethernet/chelsio",
	"kernel/drivers/net/ethernet/sfc", "kernel/drivers/net/ethernet/intel/ice",
	"kernel/drivers/net/ethernet/qlogic", "kernel/drivers/net/ethernet/broadcom/bnx2x",
	"kernel/drivers/net/ethernet/broadcom/bnxt", "kernel/drivers/net/ethernet/netronome",
	"kernel/drivers/net/ethernet/cavium", "kernel/drivers/net/ethernet/huawei",
}

// MakeImage validates the config, then writes to o.Out: vmlinuz (the
// kernel as shipped), vmlinux (its uncompressed ELF, for QEMU's PVH
// boot), the initramfs (InitramfsName) and manifest.txt (sizes and
// sha256 of each, then of every file in the initramfs).
func MakeImage(o Options) (*Image, error) {
	conf, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, err
	}
	if _, warns, err := config.ParseBytes(o.Config, conf); err != nil {
		return nil, fmt.Errorf("baked config: %w", err)
	} else if len(warns) > 0 {
		var ws []string
		for _, w := range warns {
			ws = append(ws, w.String())
		}
		return nil, fmt.Errorf("baked config has warnings (a baked config must be clean):\n%s", strings.Join(ws, "\n"))
	}
	if o.BuildTime.IsZero() {
		return nil, fmt.Errorf("no build time (SOURCE_DATE_EPOCH or the git commit time)")
	}
	ca, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (install Debian's ca-certificates package: apt-get install ca-certificates)", err)
	}
	init, err := os.ReadFile(o.Init)
	if err != nil {
		return nil, err
	}
	vmlinuz, kver, err := findKernel(o.KernelDir)
	if err != nil {
		return nil, err
	}
	modRoot := filepath.Join(o.KernelDir, "lib/modules", kver)
	tree, err := OpenTree(os.DirFS(modRoot))
	if err != nil {
		return nil, err
	}
	names := append([]string(nil), o.Modules...)
	for _, d := range o.ModuleDirs {
		names = append(names, tree.Without(tree.Under(d), o.ExcludeDirs)...)
	}
	mods, err := tree.Resolve(names)
	if err != nil {
		return nil, err
	}
	recs, err := Build(Spec{Init: init, Config: conf, CACerts: ca, BuildTime: o.BuildTime, KernelVersion: kver, Modules: mods,
		ModuleFS: tree.FS, CompressModules: o.CompressModules})
	if err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	if err := Write(&raw, recs, false); err != nil {
		return nil, err
	}
	cpioZst, err := compressZstd(raw.Bytes())
	if err != nil {
		return nil, err
	}
	bz, err := os.ReadFile(vmlinuz)
	if err != nil {
		return nil, err
	}
	elf, err := Vmlinux(bz)
	if err != nil {
		return nil, err
	}
	entries, err := Manifest(recs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	outputs := map[string][]byte{"vmlinuz": bz, "vmlinux": elf, InitramfsName: cpioZst}
	img := &Image{KernelVersion: kver, Files: map[string]int64{}}
	var m strings.Builder
	fmt.Fprintf(&m, "# ntpbox image: kernel %s, %d modules, built %s\n", kver, len(mods), o.BuildTime.UTC().Format(time.RFC3339))
	for _, name := range sortedKeys(outputs) {
		data := outputs[name]
		if err := writeIfChanged(filepath.Join(o.Out, name), data); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&m, "%-18s %9d %s\n", name, len(data), hex.EncodeToString(sum[:]))
		img.Files[name] = int64(len(data))
	}
	fmt.Fprintf(&m, "# initramfs contents (mode, size, sha256, name):\n%s", FormatManifest(entries))
	img.Manifest = m.String()
	if err := os.WriteFile(filepath.Join(o.Out, "manifest.txt"), []byte(img.Manifest), 0o644); err != nil {
		return nil, err
	}
	return img, nil
}

// DefaultCACerts is where Debian's ca-certificates package keeps its
// bundle.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// SourceDateEpoch returns the build time of an image: $SOURCE_DATE_EPOCH
// (seconds since 1970) when set, else the committer time of the git
// checkout's HEAD in dir. Never the clock: the same inputs give the same
// image.
func SourceDateEpoch(dir string) (time.Time, error) {
	s := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	from := "SOURCE_DATE_EPOCH"
	if s == "" {
		cmd := exec.Command("git", "log", "-1", "--format=%ct", "HEAD")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("build time: no SOURCE_DATE_EPOCH, and git log in %s: %w", dir, err)
		}
		s, from = strings.TrimSpace(string(out)), "git commit time"
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("build time: %s %q is not seconds since 1970", from, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// compressZstd compresses with the zstd tool (Debian's zstd). Under
// QEMU TCG the kernel unpacks zstd about a second faster than xz, for
// ~8% more bytes. The window is pinned at 8 MiB (wlog=23, what -19
// picks anyway): the kernel's unpacker allocates the whole window, and
// with it 128 MiB of RAM still serves. No content checksum (the kernel
// does not need one; the cpio is checked by the manifest), one thread
// and a fixed level keep the output the same from run to run.
func compressZstd(data []byte) ([]byte, error) {
	cmd := exec.Command("zstd", "-19", "--zstd=wlog=23", "--no-check", "-T1", "-q", "-c")
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("zstd: %v: %s (install Debian's zstd package)", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// findKernel returns the vmlinuz of an unpacked kernel package and its
// version.
func findKernel(dir string) (path, version string, err error) {
	m, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		return "", "", fmt.Errorf("%s: expected one boot/vmlinuz-VERSION, found %d (run build/kernel.sh)", dir, len(m))
	}
	return m[0], strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-"), nil
}

// writeIfChanged keeps the file's time when its bytes are the same, so
// make does not redo what depends on it. It replaces the file atomically:
// a QEMU started meanwhile boots the old image or the new, never half.
func writeIfChanged(name string, data []byte) error {
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return atomicfile.Write(name, data, 0o644)
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
