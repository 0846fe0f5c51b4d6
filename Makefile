# ntpbox — see README.md. Every target works on a fresh Debian 12 machine as
# root; `make test` and `make bench` install the Debian packages they need.

GO      ?= go
BIN     := out/ntpbox
NTPLOAD ?= ../shared/tools/ntpload
export CGO_ENABLED := 0

IMAGE   := out/image
KERNEL_CACHE ?= out/cache

# The architecture `make image` builds: amd64 (default) into out/image
# (out/image/amd64 links there), or 386 or arm64 into out/image/ARCH
# with its binary in out/ARCH/ntpbox. Nothing else takes ARCH. Only from make's
# command line: an ARCH in the environment (kernel builds set one) is
# not ours.
ifneq ($(origin ARCH),command line)
ARCH := amd64
endif
ifeq ($(filter $(ARCH),amd64 386 arm64),)
$(error ARCH=$(ARCH): amd64, 386 or arm64)
endif
ifeq ($(ARCH),amd64)
ARCH_IMAGE := $(IMAGE)
ARCH_BIN   := $(BIN)
else
ARCH_IMAGE := $(IMAGE)/$(ARCH)
ARCH_BIN   := out/$(ARCH)/ntpbox
endif
# The smallest QEMU -m (MiB) seen to boot, sync and serve, written to
# the manifest: amd64's by TestHardwareMatrix/e1000-ahci (docs/
# appliance.md), 386's by hand with NTPBOX_ARCH_MEM (qemu/arch_test.go),
# which `make test-arch` checks again.
MIN_MEMORY_amd64 := 128
MIN_MEMORY_386   := 72
# arm64's with the disk as the VM's boot device (QEMU bootindex=0, the
# NIC none): else UEFI's network boot stack on the NIC leaves no room
# for the 31 MB kernel below 176 MiB (docs/appliance.md).
MIN_MEMORY_arm64 := 128

.PHONY: all build build-arch run demo test test-load test-arch unit integration fuzz bench bench-time deps clean image qemu qemu-disk

all: build

# The commit `ntpbox version` names, for builds where Go stamps none
# (GOFLAGS=-buildvcs=false, or no git): the short hash, +changes if the
# tree differs from it.
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +changes)

build:
	$(GO) build -trimpath -ldflags="-s -w -X main.buildCommit=$(COMMIT)" -o $(BIN) ./cmd/ntpbox

# The binary for ARCH (cross-compiled; CGO_ENABLED=0 above). GO386=
# softfloat: Go's default for 386 (sse2) uses SSE2 (MFENCE in the
# runtime's clock reads, SSE2 floating point), which a Pentium III,
# K7 or Geode lacks; softfloat runs on any i686.
build-arch:
	GOARCH=$(ARCH) GO386=softfloat $(GO) build -trimpath -ldflags="-s -w -X main.buildCommit=$(COMMIT)" -o $(ARCH_BIN) ./cmd/ntpbox

# The daemon alone, without QEMU: serve the local clock on a loopback
# port and show a query answered, then keep serving until Ctrl-C.
run: build
	build/run.sh $(BIN) ntpbox.example.conf

# The main job: the box on a lab network in namespaces on this machine
# (no internet): an upstream `ntpbox serve -x` at stratum 2, the image
# under QEMU with `dhcp server` and `dns zone lab.test`, and a client
# whose udhcpc lease (option 42) configures a real chronyd (-x) through
# NetworkManager's chrony hook. Shows the client synchronised to the box
# and the SRV record, then runs until Ctrl-C and removes everything.
# ARGS=-check runs it once and exits non-zero if a step failed. (Built,
# not `go run`: go run exits 1 on Ctrl-C whatever the program returns.)
demo: deps build image
	$(GO) build -o out/ntpbox-demo ./qemu/cmd/ntpbox-demo
	out/ntpbox-demo -bin $(BIN) -image $(IMAGE) $(ARGS)

# Everything: vet, unit tests, fuzz seeds, integration tests with real
# clients (chronyd, ntpdate, ntpdig). Installs what it needs first.
test: deps build image
	$(GO) vet ./...
	NTPBOX_REQUIRE_TOOLS=1 NTPBOX_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m ./...

# Coverage-guided fuzzing of every decoder, FUZZTIME each (not part of
# `make test`, which runs the committed seeds; CI runs it with 30s). A
# crasher lands in the package's testdata/fuzz: commit it as a seed.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./ntpserver:FuzzPacket ./ntpserver:FuzzCmsg ./ntpserver/daemon:FuzzDriftFile \
	./config:FuzzParse ./config:FuzzCmdline ./config:FuzzDecode \
	./ntpserver/upstream:FuzzReceive ./ntpserver/upstream:FuzzTZifLeaps ./control:FuzzHandle \
	./control/cmdmon:FuzzCmdmonRequest ./control/cmdmon:FuzzDecodeReply \
	./dhcpopt:FuzzHandle ./dhcpopt:FuzzHandle6 ./dhcpopt:FuzzARP ./dhcpopt:FuzzParseServers \
	./dhcpopt:FuzzLeaseFile ./dhcpopt:FuzzExchange \
	./dnssrv:FuzzServeDNS ./dnssrv:FuzzTCPFraming ./dnssrv:FuzzMDNS ./internal/persist:FuzzNewest ./internal/persist:FuzzServe ./appliance:FuzzParseSeed ./appliance:FuzzUevent ./appliance:FuzzSavedTime ./appliance:FuzzMatchModules ./appliance:FuzzModuleDeps
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) build/fuzz.sh $(FUZZ_TARGETS)

# The 386 image (make image ARCH=386) under qemu-system-i386 -cpu
# pentium3 from SeaBIOS, pcnet and IDE: a DHCP lease from dnsmasq, a real
# chronyd served at stratum upstream+1 within 60 s of power-on, at
# -m 128 and at the manifest's smallest memory. Also vets the tree for
# GOARCH=386 and checks build/kernel.sh's private i386 apt set-up.
# (`make test` builds amd64 only and skips these.)
#
# The arm64 image (make image ARCH=arm64) under qemu-system-aarch64 -M
# virt -cpu cortex-a53 through Debian's UEFI firmware (AAVMF):
# systemd-boot, virtio-blk on MMIO, virtio-net, the same lease, stratum
# 3 and seccomp checks, at 128 MiB (the disk the boot device, so UEFI
# leaves the NIC alone) and at 176 MiB with no boot device named.
# Vets GOARCH=arm64.
# The same image's Raspberry Pi path: the Pi firmware's files on its FAT
# partition, checked against config.txt (TestRaspiFiles), and -M raspi3b
# booting the kernel, DTB and initramfs config.txt names, from the image
# as SD card, with usb-net (TestRaspi3B): the same lease and stratum 3.
test-arch: deps
	GOARCH=386 $(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	$(MAKE) image ARCH=386
	$(MAKE) image ARCH=arm64
	NTPBOX_IMAGE_386=$(CURDIR)/$(IMAGE)/386 KERNEL_CACHE=$(abspath $(KERNEL_CACHE)) NTPBOX_REQUIRE_TOOLS=1 \
		$(GO) test -count=1 -run '^TestKernelSh386$$' ./initramfs
	NTPBOX_IMAGE_386=$(CURDIR)/$(IMAGE)/386 NTPBOX_IMAGE_ARM64=$(CURDIR)/$(IMAGE)/arm64 NTPBOX_REQUIRE_TOOLS=1 \
		$(GO) test -count=1 -timeout 40m -run '^(TestArch|TestRaspi)' -v ./qemu

# The load tests of issue 11 at full size (floods of DHCP, DNS and NTP
# against the disk image); `make test` runs a short form of each.
test-load: deps build image
	NTPBOX_LOAD=full NTPBOX_REQUIRE_TOOLS=1 NTPBOX_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m -run 'Flood' -v ./qemu

# ntpbox beside chronyd under ntpload; prints the figures and ratios.
bench: deps build image
	$(GO) test -run XXX -bench . -benchmem ./ntpserver
	$(GO) test -run XXX -bench LANDay -benchtime 1x ./ntpserver/upstream
	build/bench.sh $(BIN) $(NTPLOAD)
	build/bench-vm.sh $(IMAGE)

# The time the box serves against chronyd's, in the same QEMU lab and
# the same run (build/bench-time.sh): prints a table and a RATIO line.
# About 16 minutes (2 rounds of 240 s each).
bench-time: deps build image
	build/bench-time.sh $(IMAGE)

deps:
	build/deps.sh

# The appliance's boot image in out/image: Debian 12's kernel (fetched
# with apt-get download into $(KERNEL_CACHE), never installed) as vmlinuz
# and as an uncompressed vmlinux for QEMU, initramfs.cpio.zst with the
# static ntpbox as /init, and manifest.txt. Checks the baked config.
# Then the disk image ntpbox-amd64.img (build/disk.sh): one FAT32
# partition labelled NTPBOX that boots through BIOS (syslinux) and UEFI
# (systemd-boot), and holds ntpbox.conf, cmdline.txt and the drift file.
# ARCH=386: the same from linux-image-686 into out/image/386, and
# ntpbox-386.img, which boots through BIOS. ARCH=arm64: from
# linux-image-arm64 into out/image/arm64, and ntpbox-arm64.img, which
# boots through UEFI (systemd-boot-efi:arm64's BOOTAA64.EFI) and on a
# Raspberry Pi 3 or 4 through its own firmware (raspi-firmware).
image: $(if $(filter amd64,$(ARCH)),build,build-arch)
	kdir=$$(build/kernel.sh $(KERNEL_CACHE) $(ARCH)) && \
	$(GO) run ./initramfs/cmd/mkimage -arch $(ARCH) -init $(ARCH_BIN) -config initramfs/ntpbox.conf -kernel-dir "$$kdir" -compress-modules -out $(ARCH_IMAGE) \
		$(if $(MIN_MEMORY_$(ARCH)),-min-memory $(MIN_MEMORY_$(ARCH)))
	KERNEL_CACHE=$(KERNEL_CACHE) build/disk.sh $(ARCH_IMAGE) initramfs/ntpbox.conf $(ARCH)
	$(if $(filter amd64,$(ARCH)),[ -e $(IMAGE)/amd64 ] || ln -s . $(IMAGE)/amd64)

# Boot the image under QEMU on this terminal, at 198.18.0.2 on a
# throwaway lab network (Ctrl-A X quits). QEMU_APPEND adds kernel
# parameters, e.g. QEMU_APPEND="ntpbox.allow=all ntpbox.local=stratum,12".
QEMU_APPEND ?=
qemu: image
	$(GO) run ./qemu/cmd/ntpbox-vm -image $(IMAGE) -append "ntpbox.address=198.18.0.2/24 $(QEMU_APPEND)"

# Boot a copy of the disk image (out/qemu-disk.img, kept between runs,
# so the drift file persists) through SeaBIOS, or OVMF with QEMU_UEFI=1;
# its address is QEMU_ADDRESS, written to the copy's cmdline.txt.
QEMU_ADDRESS ?= 198.18.0.2/24
qemu-disk: image
	[ -f out/qemu-disk.img ] || cp $(IMAGE)/ntpbox-amd64.img out/qemu-disk.img
	printf 'ntpbox.address=$(QEMU_ADDRESS)\n' > out/cmdline.txt
	MTOOLS_SKIP_CHECK=1 mcopy -o -i out/qemu-disk.img@@1M out/cmdline.txt ::/cmdline.txt
	$(GO) run ./qemu/cmd/ntpbox-vm -disk out/qemu-disk.img $(if $(QEMU_UEFI),-uefi)

clean:
	rm -rf out
