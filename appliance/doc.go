// Package appliance is what ntpbox does when the kernel starts it as PID 1
// (/init in the initramfs): it turns the machine into a time server, the
// way gokrazy's init does for its services.
//
// [Init.Run] takes these steps, logging each to the console and going on
// when one fails (PID 1 must never exit):
//
//  1. mounts /proc, /sys, /dev (devtmpfs), /run and /tmp;
//  2. steps the clock up to the build time if the RTC set it earlier,
//     sets the host name (ntpbox) and brings up lo;
//  3. loads the drivers the hardware needs: every module of the initramfs
//     whose modules.alias pattern matches a /sys/bus/*/devices/*/modalias,
//     plus evdev and the ACPI button, for the power button, and vfat
//     with its character sets ([StorageModules]);
//  4. mounts the FAT partition labelled NTPBOX (the disk image's boot
//     partition) at /perm, waiting up to 10 s for disks still being
//     probed; without one, nothing persists; removes the temporary
//     files a power cut left there, and credits the random seeds (from
//     /perm and from systemd-boot: [Seeds]), keeping a fresh one;
//  5. reads the kernel command line, then /perm/cmdline.txt (same
//     syntax): ntpbox.address= (ADDR/LEN, or dhcp: a lease, kept
//     renewed, whose NTP servers of option 42 become server lines),
//     ntpbox.gateway=, ntpbox.nameserver= and ntpbox.interface=
//     configure the network; every other
//     ntpbox.DIRECTIVE=ARGS becomes a config line (a comma stands for a
//     space, repeated keys add lines);
//  6. writes /run/ntpbox.conf: /perm/ntpbox.conf when valid, else the
//     baked-in /etc/ntpbox.conf, with `driftfile /perm/ntpbox.drift` when
//     /perm is mounted and the file names no drift file; an `allow` line
//     per connected subnet, then the command line's lines; and
//     /run/ntpbox-net.conf, a record of the network settings (they are
//     never given to `ntpbox serve`, whose parser does not know them);
//  7. runs `ntpbox serve -f /run/ntpbox.conf` as a child process, restarts
//     it with a growing backoff when it dies (exit code 125 means "do not
//     restart"), prints "ntpbox: serving" once it listens, and reaps
//     orphans;
//  8. on SIGTERM, SIGINT (Ctrl-Alt-Del), SIGPWR or the ACPI power button,
//     stops the child with SIGTERM (it saves the drift file), saves a
//     random seed, syncs, unmounts /perm and powers off.
//
// The system clock starts from the RTC: the kernel's hctosys
// (CONFIG_RTC_HCTOSYS, built into Debian's kernel with the CMOS RTC)
// sets it before init runs. Init only puts a floor under it: a clock
// before the image's build time (/etc/ntpbox-build-time, baked in by
// mkimage from SOURCE_DATE_EPOCH or the git commit time), as a dead RTC
// battery gives, is stepped to that time and logged ([ClockFloor]);
// a plausible one is left alone.
//
// Init's log, the "ntpbox: ..." sentinels and the service's stdout and
// stderr go to the console and to a [Ring] of the last 1000 lines
// (256 KiB at most), which `ntpbox log [-f]` reads from the unix socket
// /run/ntpbox/init.sock ([LogSocket]).
//
// The operating system is reached through the small [System] and
// [Starter] interfaces, so the sequence is tested without being PID 1;
// the Linux implementations are [Linux] and [NewReaper].
//
// A kernel command line for a box at 198.18.0.2 that serves everyone as
// stratum 3 from its own clock:
//
//	console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.allow=all ntpbox.local=stratum,3
package appliance
