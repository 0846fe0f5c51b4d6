package appliance

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// A box booted without its disk serves at once, from the baked config,
// with no drift or lease file (nothing is written to the initramfs's
// /perm); when the disk comes (a USB stick put in later), init mounts
// it and applies it as a reload: its ntpbox.conf and cmdline.txt, its
// drift file, its saved time; at power-off it is unmounted.
func TestInitPersistentPartitionComesLate(t *testing.T) {
	sys := newFakeSystem("console=ttyS0 ntpbox.address=198.18.0.2/24 ntpbox.gateway=198.18.0.1 ntpbox.dhcp=server,198.18.0.100,198.18.0.120")
	r := startInitOn(t, sys)
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	cfg := r.config(t)
	if cfg.DriftFile != "" || cfg.DHCPLeaseFile() != "" {
		t.Errorf("without /perm: driftfile %q, lease file %q; want none", cfg.DriftFile, cfg.DHCPLeaseFile())
	}
	// Nothing more happens on an event that brings no partition.
	sys.disks <- struct{}{}
	waitFor(t, "a second look for the partition", func() bool { return strings.Count(strings.Join(sys.Calls(), "\n"), "find fat") == 2 })

	sys.mu.Lock()
	sys.permDev = "/dev/sda1"
	sys.files[PermConfig] = []byte("server 198.18.0.1 iburst\n")
	sys.files[PermCmdline] = []byte("ntpbox.local=stratum,12\n")
	sys.files[PermTime] = EncodeSavedTime(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	sys.mu.Unlock()
	sys.disks <- struct{}{}
	waitFor(t, "the late partition's config", func() bool { return r.config(t).DriftFile == PermDrift })
	out := r.rendered(t)
	hasLines(t, out, "server 198.18.0.1 iburst", "local stratum 12", "driftfile "+PermDrift)
	if strings.Contains(out, "pool.ntp.org") {
		t.Errorf("the baked config stays although /perm came with one:\n%s", out)
	}
	if lf := r.config(t).DHCPLeaseFile(); lf != PermDir+"/dhcp.leases" {
		t.Errorf("lease file %q once /perm came", lf)
	}
	calls := strings.Join(sys.Calls(), "\n")
	if !strings.Contains(calls, "mount vfat /perm\nset clock 2030-05-06T07:08:09Z") {
		t.Errorf("the late /perm was not mounted, then the clock stepped to its saved time:\n%s", calls)
	}
	// A second event changes nothing: it is mounted.
	sys.disks <- struct{}{}
	r.pressPowerButton()
	calls = strings.Join(sys.Calls(), "\n")
	if strings.Count(calls, "mount vfat /perm") != 1 || !strings.Contains(calls, "unmount /perm\npower off") {
		t.Errorf("calls:\n%s", calls)
	}
	// Unsynchronised, but started from the saved time: the time moves on.
	if got := sys.File(PermTime); !strings.Contains(got, "time 2030-05-06T07:08:09Z") {
		t.Errorf("%s at shutdown: %q", PermTime, got)
	}
}

// With a persistent partition at boot, a config that names state files
// there keeps them.
func TestMergeKeepsPermStateOnlyWhenMounted(t *testing.T) {
	for _, perm := range []bool{false, true} {
		bc := &boxConfig{perm: perm, parts: []config.Part{config.ApplianceDefaults(PermDrift),
			config.FilePart(config.LayerBaked, BakedConfig, []byte("dhcp server 198.18.0.100 198.18.0.120 leasefile /perm/leases\ndriftfile /perm/x.drift\n"))}}
		cfg, err := bc.merge(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.StateFiles("ntp"); perm != (len(got) == 1) {
			t.Errorf("perm %v: ntp state files %v", perm, got)
		}
		if got := cfg.DHCPLeaseFile(); perm != (got == "/perm/leases") || !perm && got != "" {
			t.Errorf("perm %v: lease file %q", perm, got)
		}
	}
}

// The last known good time: a clock before it is stepped to it at boot;
// it is saved when the service is synchronised (at once, then every
// TimeSave, and at shutdown), and not while an RTC-set clock has no
// source.
func TestInitSavedTime(t *testing.T) {
	saved := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sys := newFakeSystem("console=ttyS0 ntpbox.address=198.18.0.2/24")
	sys.permDev = "/dev/vda1"
	sys.files[PermTime] = EncodeSavedTime(saved)
	var synced atomic.Bool
	r := startInitOn(t, sys, func(in *Init) {
		in.Synced = func(*config.Config) bool { return synced.Load() }
		in.TimeSave = 20 * time.Millisecond
	})
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	if !strings.Contains(strings.Join(sys.Calls(), "\n"), "mount vfat /perm\nset clock 2030-01-01T00:00:00Z") {
		t.Errorf("the clock (2027) was not stepped to the saved time:\n%s", strings.Join(sys.Calls(), "\n"))
	}
	// The clock moves on from the saved time: saved although there is
	// no source, as fake-hwclock does.
	sys.mu.Lock()
	sys.now = saved.Add(time.Hour)
	sys.mu.Unlock()
	waitFor(t, "the time saved", func() bool { return strings.Contains(sys.File(PermTime), "time 2030-01-01T01:00:00Z") })
	// Gone back before the saved time with no source: not saved.
	sys.mu.Lock()
	sys.now = saved.Add(-time.Hour)
	sys.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if got := sys.File(PermTime); !strings.Contains(got, "time 2030-01-01T01:00:00Z") {
		t.Errorf("an unsynchronised clock earlier than the saved time was saved: %q", got)
	}
	// Synchronised: whatever it says is good.
	synced.Store(true)
	waitFor(t, "the synchronised time saved", func() bool { return strings.Contains(sys.File(PermTime), "time 2029-12-31T23:00:00Z") })
	r.pressPowerButton()
}

// An RTC that set the clock, with no source: the time is never saved (an
// RTC years ahead must not become the next boot's floor).
func TestInitSavedTimeNotFromRTC(t *testing.T) {
	sys := newFakeSystem("console=ttyS0 ntpbox.address=198.18.0.2/24")
	sys.permDev = "/dev/vda1"
	r := startInitOn(t, sys, func(in *Init) { in.TimeSave = 10 * time.Millisecond })
	<-r.st.started
	r.waitConsole(t, SentinelServing)
	time.Sleep(100 * time.Millisecond)
	r.pressPowerButton()
	if got := sys.File(PermTime); got != "" {
		t.Errorf("saved %q from an unsynchronised RTC clock", got)
	}
}

func TestParseSavedTime(t *testing.T) {
	want := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	got, err := ParseSavedTime(EncodeSavedTime(want))
	if err != nil || !got.Equal(want) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "# only a comment\n", "time yesterday\n", "time 1970-01-02T00:00:00Z\n",
		"time 2026-12-04T21:00:00Z\ntime 2026-12-04T21:00:00Z\n", "when 2026-12-04T21:00:00Z\n"} {
		if _, err := ParseSavedTime([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzSavedTime(f *testing.F) {
	f.Add(EncodeSavedTime(time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)))
	f.Add([]byte("time 9999-12-31T23:59:59+14:00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseSavedTime(b)
		if err != nil {
			return
		}
		again, err := ParseSavedTime(EncodeSavedTime(got))
		if err != nil || !again.Equal(got.Truncate(time.Second)) {
			t.Fatalf("%q: %v, then %v %v", b, got, again, err)
		}
	})
}
