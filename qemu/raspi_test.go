//go:build linux

package qemu_test

// Issue 13's Raspberry Pi 3 and 4: the arm64 disk image also boots
// through the Pi's own firmware. QEMU's raspi3b cannot run that firmware
// (bootcode.bin and start.elf run on the VideoCore GPU, which QEMU does
// not emulate: it starts the ARM cores itself, with -kernel), so
// TestRaspiFiles checks that the FAT partition has everything the
// firmware needs, read as the firmware reads it (config.txt names the
// kernel and initramfs, upstream_kernel=1 the DTBs), and TestRaspi3B
// boots what config.txt names out of the image, with cmdline.txt as
// the command line and the image as the SD card.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/qemu"
)

// piConfig is config.txt as the firmware reads it for one model: the
// lines before any [filter] section, under [all], and under the model's
// own filter ([pi3], [pi4]).
type piConfig struct {
	set       map[string]string // key=value
	initramfs string            // "initramfs FILE followkernel"
}

func parsePiConfig(text, model string) (piConfig, error) {
	c := piConfig{set: map[string]string{}}
	applies := true
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			f := line[1 : len(line)-1]
			applies = f == "all" || f == model
			continue
		}
		if !applies {
			continue
		}
		if f := strings.Fields(line); f[0] == "initramfs" {
			if len(f) != 3 {
				return c, fmt.Errorf("config.txt line %d: %q: want initramfs FILE followkernel (or an address)", i+1, line)
			}
			c.initramfs = f[1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("config.txt line %d: %q is neither key=value nor initramfs", i+1, line)
		}
		c.set[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return c, nil
}

// piFirmware is what the firmware loads from the FAT partition for a
// model under config c: its GPU firmware (start*.elf) and the matching
// fixup*.dat, as start_x, start_debug, gpu_mem=16 or start_file pick
// them, and, on the Pi 3 (whose boot ROM reads the SD card), bootcode.bin.
func piFirmware(c piConfig, model string) []string {
	if c.set["start_file"] != "" {
		return []string{c.set["start_file"], c.set["fixup_file"]}
	}
	suffix := ""
	switch {
	case c.set["start_debug"] == "1":
		suffix = "db"
	case c.set["start_x"] == "1":
		suffix = "x"
	case c.set["gpu_mem"] == "16":
		suffix = "cd"
	}
	if model == "pi4" {
		return []string{"start4" + suffix + ".elf", "fixup4" + suffix + ".dat"}
	}
	if suffix != "" {
		suffix = "_" + suffix
	}
	return []string{"bootcode.bin", "start" + suffix + ".elf", "fixup" + suffix + ".dat"}
}

// piBoards are the boards issue 13 names, their config.txt filter, the
// DTB the firmware loads for each (with upstream_kernel=1, and without:
// the Raspberry Pi kernel's names), and the DTB's first compatible.
var piBoards = []struct {
	name, model, upstreamDTB, downstreamDTB, compatible string
}{
	{"Pi 3 B", "pi3", "bcm2837-rpi-3-b.dtb", "bcm2710-rpi-3-b.dtb", "raspberrypi,3-model-b"},
	{"Pi 3 B+", "pi3", "bcm2837-rpi-3-b-plus.dtb", "bcm2710-rpi-3-b-plus.dtb", "raspberrypi,3-model-b-plus"},
	{"Pi 4 B", "pi4", "bcm2711-rpi-4-b.dtb", "bcm2711-rpi-4-b.dtb", "raspberrypi,4-model-b"},
}

// fdtCompatible returns the first compatible string of a flattened
// device tree's root node.
func fdtCompatible(b []byte) (string, error) {
	be := binary.BigEndian
	if len(b) < 40 || be.Uint32(b) != 0xd00dfeed {
		return "", fmt.Errorf("not a flattened device tree (no magic d00dfeed)")
	}
	structOff, stringsOff := be.Uint32(b[8:]), be.Uint32(b[12:])
	if int(structOff) >= len(b) || int(stringsOff) >= len(b) {
		return "", fmt.Errorf("offsets past the end")
	}
	p, depth := int(structOff), 0
	for p+4 <= len(b) {
		tok := be.Uint32(b[p:])
		p += 4
		switch tok {
		case 1: // FDT_BEGIN_NODE: a NUL-ended name, padded to 4
			end := bytes.IndexByte(b[p:], 0)
			if end < 0 {
				return "", fmt.Errorf("unterminated node name")
			}
			p += (end + 4) &^ 3
			depth++
		case 2: // FDT_END_NODE
			depth--
		case 3: // FDT_PROP: len, nameoff, value padded to 4
			if p+8 > len(b) {
				return "", fmt.Errorf("truncated property")
			}
			n, nameOff := int(be.Uint32(b[p:])), int(stringsOff)+int(be.Uint32(b[p+4:]))
			p += 8
			if p+n > len(b) || nameOff >= len(b) {
				return "", fmt.Errorf("property past the end")
			}
			name := b[nameOff:]
			if depth == 1 && string(name[:max(bytes.IndexByte(name, 0), 0)]) == "compatible" {
				v := b[p : p+n]
				if i := bytes.IndexByte(v, 0); i >= 0 {
					v = v[:i]
				}
				return string(v), nil
			}
			p += (n + 3) &^ 3
		case 4: // FDT_NOP
		case 9: // FDT_END
			return "", fmt.Errorf("the root node has no compatible")
		default:
			return "", fmt.Errorf("bad token %#x", tok)
		}
	}
	return "", fmt.Errorf("truncated structure block")
}

// loaderEntry returns what systemd-boot's entry names after key (linux,
// initrd), without the leading '/'.
func loaderEntry(t *testing.T, disk, key string) string {
	b, err := (qemu.DiskFile{Disk: disk, Name: "loader/entries/ntpbox.conf"}).Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return strings.TrimPrefix(f[1], "/")
		}
	}
	t.Fatalf("loader/entries/ntpbox.conf has no %s line:\n%s", key, b)
	return ""
}

// TestRaspiFiles (issue 13): the arm64 image's partition table and FAT
// partition hold everything the Raspberry Pi 3 B, 3 B+ and 4 B firmware
// needs to start the box, cross-checked against config.txt as the
// firmware reads it: an MBR (the Pi 3's boot ROM and bootcode.bin read
// no GPT) with a FAT32 partition; bootcode.bin, start*.elf and the
// matching fixup*.dat; arm_64bit=1; the kernel= and initramfs files,
// the very ones systemd-boot loads (one image for UEFI and the Pi); each
// board's DTB under the name the firmware looks for, for that board;
// cmdline.txt on one line with the console on the UART enable_uart
// turns on; raspi-firmware's licence on the disk and its version, hash
// and licence in the manifest.
func TestRaspiFiles(t *testing.T) {
	dir := os.Getenv("NTPBOX_IMAGE_ARM64")
	if dir == "" {
		t.Skip("NTPBOX_IMAGE_ARM64 is not set (make test-arch builds the arm64 image and sets it)")
	}
	img := qemu.ArchImage(dir, "arm64")
	qemu.RequireT(t, img, "mtype", "mdir", img.Disk, img.Manifest)
	read := func(name string) []byte {
		t.Helper()
		b, err := (qemu.DiskFile{Disk: img.Disk, Name: name}).Read()
		if err != nil {
			t.Fatalf("the FAT partition: %v", err)
		}
		return b
	}

	// The partition table: MBR, the first entry FAT32 (LBA) from 1 MiB,
	// no GPT's protective entry.
	f, err := os.Open(img.Disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mbr := make([]byte, 512)
	boot := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		t.Fatalf("no MBR signature (55 aa) in the first sector")
	}
	for i := range 4 {
		if typ := mbr[446+16*i+4]; typ == 0xee {
			t.Errorf("partition entry %d is GPT's protective 0xee: the Pi 3's boot ROM reads only MBR", i+1)
		}
	}
	p1 := mbr[446:462]
	start := binary.LittleEndian.Uint32(p1[8:])
	if typ := p1[4]; typ != 0x0c && typ != 0x0b {
		t.Errorf("partition 1 has type %#x, want FAT32 (0x0c or 0x0b)", typ)
	}
	if _, err := f.ReadAt(boot, int64(start)*512); err != nil {
		t.Fatal(err)
	}
	if string(boot[82:90]) != "FAT32   " || boot[510] != 0x55 || boot[511] != 0xaa {
		t.Errorf("partition 1 (from sector %d) is not a FAT32 file system: %q", start, boot[82:90])
	}

	cfgText := string(read("config.txt"))
	t.Logf("config.txt:\n%s", cfgText)
	cmdline := read("cmdline.txt")
	have := map[string][]byte{}
	need := func(why, name string) []byte {
		t.Helper()
		if b, ok := have[name]; ok {
			return b
		}
		b, err := (qemu.DiskFile{Disk: img.Disk, Name: name}).Read()
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %s is missing or empty on the FAT partition (%v)", why, name, err)
			return nil
		}
		have[name] = b
		return b
	}
	for _, model := range []string{"pi3", "pi4"} {
		cfg, err := parsePiConfig(cfgText, model)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.set["arm_64bit"] != "1" {
			t.Errorf("[%s] config.txt: arm_64bit=%q, want 1 (the kernel is arm64)", model, cfg.set["arm_64bit"])
		}
		for _, name := range piFirmware(cfg, model) {
			b := need(model+" firmware", name)
			if strings.HasSuffix(name, ".elf") && b != nil && !bytes.HasPrefix(b, []byte("\x7fELF")) {
				t.Errorf("%s is not an ELF file", name)
			}
		}
		kernel, initrd := cfg.set["kernel"], cfg.initramfs
		if kernel == "" || initrd == "" {
			t.Errorf("[%s] config.txt names no kernel= (%q) or no initramfs (%q): the firmware would look for kernel8.img", model, kernel, initrd)
			continue
		}
		if kernel != loaderEntry(t, img.Disk, "linux") || initrd != loaderEntry(t, img.Disk, "initrd") {
			t.Errorf("[%s] config.txt's kernel %s and initramfs %s are not the files systemd-boot loads", model, kernel, initrd)
		}
		// An arm64 Image: "ARM\x64" at 56.
		if k := need("config.txt's kernel=", kernel); k != nil && (len(k) < 64 || string(k[56:60]) != "ARM\x64") {
			t.Errorf("%s is not an arm64 kernel Image", kernel)
		}
		if b := need("config.txt's initramfs", initrd); b != nil && !bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Errorf("%s is not zstd (the kernel unpacks it)", initrd)
		}
		if !strings.Contains(string(cmdline), "console=ttyS1") || cfg.set["enable_uart"] != "1" {
			t.Errorf("[%s] cmdline.txt %q and enable_uart=%q: want the console on the mini UART (ttyS1), which enable_uart=1 turns on", model, cmdline, cfg.set["enable_uart"])
		}
		for _, b := range piBoards {
			if b.model != model {
				continue
			}
			name := b.downstreamDTB
			if cfg.set["upstream_kernel"] == "1" {
				name = b.upstreamDTB
			}
			if cfg.set["device_tree"] != "" {
				name = cfg.set["device_tree"]
			}
			dtb := need(b.name+"'s DTB", name)
			if dtb == nil {
				continue
			}
			if c, err := fdtCompatible(dtb); err != nil || c != b.compatible {
				t.Errorf("%s's DTB %s: compatible %q (%v), want %q", b.name, name, c, err, b.compatible)
			} else {
				t.Logf("%s: %s, %s, %s", b.name, strings.Join(piFirmware(cfg, model), " "), name, c)
			}
		}
	}
	// Every start*.elf has its fixup*.dat (config.txt may pick any).
	names := map[string]bool{}
	mdir := exec.Command("mdir", "-b", "-i", img.Disk+"@@"+qemu.PartitionOffset, "::/")
	mdir.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	out, err := mdir.CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v: %s", err, out)
	}
	for _, l := range strings.Fields(string(out)) {
		names[strings.TrimPrefix(l, "::/")] = true
	}
	elf := regexp.MustCompile(`^start(4?)(_?)(x|cd|db|)\.elf$`)
	n := 0
	for name := range names {
		if m := elf.FindStringSubmatch(name); m != nil {
			n++
			if fix := "fixup" + m[1] + m[2] + m[3] + ".dat"; !names[fix] {
				t.Errorf("%s has no %s", name, fix)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d start*.elf files on the partition, want start.elf and start4.elf at least: %v", n, names)
	}
	if len(bytes.Split(bytes.TrimRight(cmdline, "\n"), []byte("\n"))) != 1 {
		t.Errorf("cmdline.txt has more than one line (the firmware reads the first): %q", cmdline)
	}
	if lic := read("LICENCE.raspi-firmware"); !bytes.Contains(lic, []byte("Redistributions must reproduce the above copyright notice")) {
		t.Errorf("LICENCE.raspi-firmware lacks the Broadcom licence's terms")
	}
	man, err := os.ReadFile(img.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^# raspi-firmware: \S+ \(raspi-firmware_\S+\.deb, sha256 [0-9a-f]{64}; Debian non-free-firmware\).*licence: .+$`).Find(man); m == nil {
		t.Errorf("the manifest records no raspi-firmware version, sha256 and licence")
	} else {
		t.Logf("manifest: %s", m)
	}
}

// TestRaspi3B (issue 13): qemu-system-aarch64 -M raspi3b (4 Cortex-A53,
// 1 GiB, as the Pi 3 B) boots what config.txt names on the image's FAT
// partition: its kernel, its initramfs, and the Pi 3 B's DTB (by its
// upstream name, upstream_kernel=1), with cmdline.txt as the command
// line, as the firmware would pass them (QEMU cannot run the firmware:
// see above). The image is the SD card (-drive if=sd, on the SoC's SD
// host: bcm2835 mmc), the NIC is QEMU's usb-net (CDC Ethernet) on the
// SoC's dwc2 USB host, the console the mini UART (ttyS1, as on a Pi's
// GPIO header). As for the virt board: a lease from dnsmasq, a real
// chronyd served at stratum 3, every service under its arm64 seccomp
// filter until the test hook's call.
func TestRaspi3B(t *testing.T) {
	dir := os.Getenv("NTPBOX_IMAGE_ARM64")
	if dir == "" {
		t.Skip("NTPBOX_IMAGE_ARM64 is not set (make test-arch builds the arm64 image and sets it)")
	}
	img := qemu.ArchImage(dir, "arm64")
	qemu.RequireT(t, img, qemu.Binaries["arm64"], "chronyd", "chronyc", "setpriv", "dnsmasq", "mcopy", "mtype", img.Disk, img.Manifest)
	archBoot(t, img, 1024, archRun{name: "raspi3b", kernel: "-arm64 ", within: raspiWithin, hookAfter: 90,
		audit: "sig=31 arch=c00000b7 syscall=219 ",
		vm: func(disk string) qemu.Config {
			cfgText, err := (qemu.DiskFile{Disk: disk, Name: "config.txt"}).Read()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := parsePiConfig(string(cfgText), "pi3")
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			extract := func(name string) string {
				b, err := (qemu.DiskFile{Disk: disk, Name: name}).Read()
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(tmp, name)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			dtb := "bcm2710-rpi-3-b.dtb"
			if cfg.set["upstream_kernel"] == "1" {
				dtb = "bcm2837-rpi-3-b.dtb"
			}
			cmdline, err := (qemu.DiskFile{Disk: disk, Name: "cmdline.txt"}).Read()
			if err != nil {
				t.Fatal(err)
			}
			kernel, initrd, dtbPath := extract(cfg.set["kernel"]), extract(cfg.initramfs), extract(dtb)
			// QEMU's SD card must be a power of two in size.
			st, err := os.Stat(disk)
			if err != nil {
				t.Fatal(err)
			}
			size := int64(1)
			for size < st.Size() {
				size <<= 1
			}
			if size != st.Size() {
				if err := os.Truncate(disk, size); err != nil {
					t.Fatal(err)
				}
			}
			line := strings.TrimSpace(strings.SplitN(string(cmdline), "\n", 2)[0])
			t.Logf("raspi3b: -kernel %s -dtb %s -initrd %s -append %q", cfg.set["kernel"], dtb, cfg.initramfs, line)
			return qemu.Config{Binary: qemu.Binaries["arm64"], NoScreen: true, Disk: disk, DiskIf: "sd",
				NIC: "usb-net", SerialPort: 1,
				Extra: []string{"-M", "raspi3b", "-smp", "4",
					"-kernel", kernel, "-dtb", dtbPath, "-initrd", initrd, "-append", line}}
		},
		// The SD card is the persistent partition, and the NIC is the
		// USB one.
		after: func(t *testing.T, vm *qemu.VM) {
			for _, want := range []string{
				"Machine model: Raspberry Pi 3 Model B",
				`msg="persistent partition mounted" component=init device=/dev/mmcblk0p1 target=/perm`,
				"cdc_ether", "at 198.18.0.150/24 on usb0 (DHCP lease from " + autoDnsmasqAddr,
			} {
				if discConsoleCount(vm, want) == 0 {
					t.Errorf("no %q on the console", want)
				}
			}
		}})
}

// raspiWithin bounds the raspi3b box's first stratum-3 reply: QEMU's
// four TCG cores and its dwc2 USB are slower than the virt board.
const raspiWithin = 120 * time.Second
