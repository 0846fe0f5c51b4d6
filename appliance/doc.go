// Package appliance is what ntpbox does when the kernel starts it as PID 1
// (/init in the initramfs): it turns the machine into a time server, the
// way gokrazy's init does for its services.
//
// [Init.Run] takes these steps, logging each and going on when one fails
// (PID 1 must never exit):
//
//  1. mounts /proc, /sys, /dev (devtmpfs), /run and /tmp, then writes to
//     every console of /proc/consoles: the screen and the serial port;
//  2. steps the clock up to the build time if the RTC set it earlier;
//  3. loads the drivers the hardware needs: every module of the initramfs
//     whose modules.alias pattern matches a /sys/bus/*/devices/*/modalias,
//     plus evdev and the ACPI button, for the power button, and vfat
//     with its character sets ([StorageModules]);
//  4. mounts the FAT partition labelled NTPBOX (the disk image's boot
//     partition) at /perm, waiting (at most 10 s) only for a disk still
//     being probed; a machine with no disk does not wait, and a disk
//     that comes later (a USB stick) is seen through the kernel's
//     uevents ([Linux.WatchDisks], [ParseUevent]), mounted then, and
//     applied as a reload; removes the temporary files a power cut left
//     there, steps the clock up to the last known good time kept there
//     ([PermTime]), and credits the random seeds (from /perm and from
//     systemd-boot: [Seeds]), keeping a fresh one;
//  5. reads the config's layers once (see package config): the
//     appliance's defaults, /perm/ntpbox.conf (or, when it is bad, the
//     last config that booted and served, /perm/ntpbox.conf.good), else
//     the baked /etc/ntpbox.conf, the kernel command line and
//     /perm/cmdline.txt. A bad line is set aside and shown on every
//     console; it never costs the box its address or its servers;
//  6. writes the merged config, typed, to /run/ntpbox/config.json
//     ([RunConfig]), and runs `ntpbox serve -c` on it as a child process,
//     restarted with a growing backoff when it dies (exit code 125 means
//     "do not restart"); prints "ntpbox: serving" once it listens, and
//     reaps orphans;
//  7. brings up the network: a static address, or a DHCP client that
//     never gives up ([LeaseEvent]); each lease, renewal, NAK, expiry and
//     link change is applied to the interface and merged into the config
//     again, which the service follows; a banner on every console says
//     where the box is and how to reach it;
//  8. on SIGTERM, SIGINT (Ctrl-Alt-Del), SIGPWR or the ACPI power button,
//     stops the child with SIGTERM (it saves the drift file), saves a
//     random seed, syncs, unmounts /perm and powers off. A panic is
//     written to every console, and the machine reboots 10 s later.
//
// The system clock starts from the RTC: the kernel's hctosys
// (CONFIG_RTC_HCTOSYS, built into Debian's kernel with the CMOS RTC)
// sets it before init runs. Init only puts a floor under it: a clock
// before the image's build time (/etc/ntpbox-build-time, baked in by
// mkimage from SOURCE_DATE_EPOCH or the git commit time), as a dead RTC
// battery gives, is stepped to that time and logged ([ClockFloor]);
// a plausible one is left alone. Once /perm is there, the floor is the
// later of the build time and the last known good time saved there
// (see [PermTime]: saved after sync, every 15 minutes and at shutdown).
//
// Init's log, the "ntpbox: ..." sentinels and the service's stdout and
// stderr go to every console and to a [Ring] of the last 1000 lines
// (256 KiB at most), which `ntpbox log [--follow]` reads from the unix socket
// /run/ntpbox/init.sock ([LogSocket]).
//
// The operating system is reached through the small [System], [NetOps]
// and [Starter] interfaces, so the sequence is tested without being
// PID 1; the Linux implementations are [Linux], [LinuxNet] and
// [NewReaper].
//
// A kernel command line for a box at 198.18.0.2 that serves everyone as
// stratum 3 from its own clock:
//
//	console=tty0 console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.allow=all ntpbox.local=stratum,3
package appliance
