package initramfs

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"github.com/ntpbox/ntpbox/internal/atomicfile"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// Arch is the Go architecture the image is for: amd64 (default), 386
	// or arm64. The init binary must be built for it (GOARCH) and the
	// kernel must be Debian's for it (-amd64, -686, -arm64).
	Arch string
	// MinMemoryMiB, if set, is the smallest QEMU -m with which the image
	// was seen to boot, sync and serve (a measurement, written to the
	// manifest).
	MinMemoryMiB int
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
// boot; amd64 only), the initramfs (InitramfsName) and manifest.txt (sizes and
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
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	a, ok := Arches[o.Arch]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q (amd64, 386 or arm64)", o.Arch)
	}
	if err := checkELF(o.Init, init, a.Machine); err != nil {
		return nil, err
	}
	vmlinuz, kver, err := findKernel(o.KernelDir)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(kver, a.KernelFlavour) {
		return nil, fmt.Errorf("%s: kernel %s is not Debian's %s kernel (*%s); run build/kernel.sh CACHE %s", o.KernelDir, kver, o.Arch, a.KernelFlavour, o.Arch)
	}
	modRoot := filepath.Join(o.KernelDir, "lib/modules", kver)
	tree, err := OpenTree(os.DirFS(modRoot))
	if err != nil {
		return nil, err
	}
	names := slices.DeleteFunc(slices.Clone(o.Modules), func(m string) bool { return slices.Contains(a.Lacks, CanonicalName(m)) })
	names = append(names, a.Modules...)
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
	outputs := map[string][]byte{"vmlinuz": bz, InitramfsName: cpioZst}
	if a.PVH {
		elf, err := Vmlinux(bz)
		if err != nil {
			return nil, err
		}
		outputs["vmlinux"] = elf
	}
	entries, err := Manifest(recs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	img := &Image{KernelVersion: kver, Files: map[string]int64{}}
	var m strings.Builder
	fmt.Fprintf(&m, "# ntpbox image: arch %s, kernel %s, %d modules, built %s\n", o.Arch, kver, len(mods), o.BuildTime.UTC().Format(time.RFC3339))
	if o.MinMemoryMiB > 0 {
		fmt.Fprintf(&m, "# smallest memory: %d MiB (QEMU -m, measured: boots, syncs and serves)\n", o.MinMemoryMiB)
	}
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

// Arch is what an image for one architecture needs.
type Arch struct {
	Machine       elf.Machine // of the init binary
	KernelFlavour string      // the Debian kernel's version suffix
	// Modules are added to Options.Modules: the drivers of this
	// architecture's own hardware.
	Modules []string
	// Lacks are the modules of DefaultModules this architecture's
	// kernel does not build (PC-only hardware); they are left out.
	Lacks []string
	// PVH: the kernel has QEMU's PVH entry (CONFIG_PVH), so the image
	// has a vmlinux to boot without decompressing. Debian's 686 kernel
	// has none; QEMU boots its vmlinuz.
	PVH bool
}

// Arches are the architectures `make image ARCH=...` builds. The 386
// image also carries the IDE and SATA drivers of the chipsets old 32-bit
// PCs, netbooks and thin clients have (VIA, SiS, AMD and Geode, ATI,
// Intel's Atom SCH, JMicron; ata_generic for the rest), where amd64's
// PCs have AHCI.
//
// arm64's kernel (Debian's Image, uncompressed, with the EFI stub that
// systemd-boot starts) adds virtio's MMIO transport (QEMU's virt board),
// the Raspberry Pi's NICs (smsc95xx on the Pi 3B, lan78xx on the 3B+,
// genet, i.e. bcmgenet, on the Pi 4), its SD controllers (sdhci-iproc,
// bcm2835 mmc; mmc_block is built in) and its USB controller (dwc2,
// with its PHY, phy-generic), USB 3 on platform buses (xhci-plat-hcd),
// the Pi's random number generator, and USB network adapters of the CDC
// Ethernet and RNDIS kinds (cdc_ether, rndis_host: QEMU's raspi3b has
// no NIC of its own, and its usb-net is both; so are many USB dongles).
var Arches = map[string]Arch{
	"amd64": {Machine: elf.EM_X86_64, KernelFlavour: "-amd64", PVH: true},
	"arm64": {Machine: elf.EM_AARCH64, KernelFlavour: "-arm64",
		Modules: []string{"virtio_mmio", "smsc95xx", "lan78xx", "genet", "sdhci_iproc", "bcm2835",
			"dwc2", "phy_generic", "xhci_plat_hcd", "bcm2835_rng", "cdc_ether", "rndis_host"},
		Lacks: []string{"forcedeth", "intel_rng", "amd_rng", "uhci_hcd"}},
	"386": {Machine: elf.EM_386, KernelFlavour: "-686", Modules: []string{
		"ata_generic", "pata_via", "sata_via", "pata_sis", "sata_sis", "pata_amd", "pata_cs5536", "pata_atiixp",
		"pata_sch", "pata_jmicron", "pata_oldpiix", "pata_rdc"}},
}

// checkELF tells a binary built for another architecture (or no ELF).
func checkELF(name string, b []byte, want elf.Machine) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: not an ELF binary: %w", name, err)
	}
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, not %v (GOARCH)", name, f.Machine, want)
	}
	return nil
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
