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

	"github.com/ntpbox/ntpbox/initramfs"
)

func main() {
	var o initramfs.Options
	flag.StringVar(&o.Init, "init", "out/ntpbox", "the static ntpbox `binary`, installed as /init")
	flag.StringVar(&o.Config, "config", "initramfs/ntpbox.conf", "the config `file` baked in as /etc/ntpbox.conf")
	flag.StringVar(&o.KernelDir, "kernel-dir", "", "an unpacked linux-image `directory` (build/kernel.sh prints it)")
	flag.StringVar(&o.Out, "out", "out/image", "output `directory`")
	mods := flag.String("modules", strings.Join(initramfs.DefaultModules, ","), "comma-separated `modules` to include, with their dependencies")
	dirs := flag.String("module-dirs", "kernel/drivers/net/ethernet", "comma-separated `directories` of the module tree to include whole")
	exclude := flag.String("exclude-dirs", strings.Join(initramfs.DefaultExcludeDirs, ","), "comma-separated `directories` of -module-dirs to leave out")
	flag.BoolVar(&o.CompressModules, "compress-modules", false, "store modules as .ko.zst (the archive is xz-compressed as a whole)")
	flag.Parse()
	if o.KernelDir == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -kernel-dir is required")
		os.Exit(2)
	}
	o.Modules = split(*mods)
	o.ModuleDirs = split(*dirs)
	o.ExcludeDirs = split(*exclude)
	img, err := initramfs.MakeImage(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
	for _, name := range []string{"vmlinuz", "vmlinux", initramfs.InitramfsName} {
		fmt.Printf("%s/%s: %d bytes\n", o.Out, name, img.Files[name])
	}
	fmt.Printf("%s/manifest.txt: kernel %s\n", o.Out, img.KernelVersion)
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
