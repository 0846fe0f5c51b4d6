// Command mkimage builds ntpbox's boot image (what `make image` runs):
// the kernel as vmlinuz and as an uncompressed vmlinux, the initramfs and
// a manifest. See package initramfs.
//
//	mkimage -init out/ntpbox -kernel-dir out/cache/linux-image-6.1.0-56-amd64 -out out/image
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/initramfs"
)

func main() {
	var o initramfs.Options
	flag.StringVar(&o.Init, "init", "out/ntpbox", "the static ntpbox `binary`, installed as /init")
	flag.StringVar(&o.Config, "config", "initramfs/ntpbox.conf", "the config `file` baked in as /etc/ntpbox.conf")
	flag.StringVar(&o.KernelDir, "kernel-dir", "", "an unpacked linux-image `directory` (build/kernel.sh prints it)")
	flag.StringVar(&o.CACerts, "ca-certs", initramfs.DefaultCACerts, "the CA bundle `file` installed as /etc/ssl/certs/ca-certificates.crt")
	buildTime := flag.Int64("build-time", 0, "the image's build time in `seconds` since 1970, init's floor for the clock (default $SOURCE_DATE_EPOCH, else the git commit time)")
	flag.StringVar(&o.Out, "out", "out/image", "output `directory`")
	mods := flag.String("modules", strings.Join(initramfs.DefaultModules, ","), "comma-separated `modules` to include, with their dependencies")
	dirs := flag.String("module-dirs", "kernel/drivers/net/ethernet", "comma-separated `directories` of the module tree to include whole")
	exclude := flag.String("exclude-dirs", strings.Join(initramfs.DefaultExcludeDirs, ","), "comma-separated `directories` of -module-dirs to leave out")
	flag.StringVar(&o.Arch, "arch", "amd64", "the `architecture` (GOARCH) of -init and -kernel-dir: amd64 or 386")
	flag.IntVar(&o.MinMemoryMiB, "min-memory", 0, "the smallest QEMU -m in `MiB` seen to boot, sync and serve, for the manifest (0: not measured)")
	flag.BoolVar(&o.CompressModules, "compress-modules", false, "store modules as .ko.zst (the archive is zstd-compressed as a whole)")
	flag.Parse()
	if o.KernelDir == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -kernel-dir is required")
		os.Exit(2)
	}
	o.Modules = split(*mods)
	o.ModuleDirs = split(*dirs)
	o.ExcludeDirs = split(*exclude)
	if *buildTime > 0 {
		o.BuildTime = time.Unix(*buildTime, 0).UTC()
	} else {
		t, err := initramfs.SourceDateEpoch(".")
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: %v (or pass -build-time)\n", err)
			os.Exit(1)
		}
		o.BuildTime = t
	}
	img, err := initramfs.MakeImage(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
	for _, name := range []string{"vmlinuz", "vmlinux", initramfs.InitramfsName} {
		if size, ok := img.Files[name]; ok {
			fmt.Printf("%s/%s: %d bytes\n", o.Out, name, size)
		}
	}
	fmt.Printf("%s/manifest.txt: %s, kernel %s, built %s\n", o.Out, o.Arch, img.KernelVersion, o.BuildTime.Format(time.RFC3339))
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
