//go:build linux

package qemu_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
	"github.com/ntpbox/ntpbox/qemu"
)

// orphanLocal is the `local` line of the two boxes: chrony's orphan mode,
// set up to elect a leader within minutes of losing the upstream. With
// chrony's defaults (the baked `local stratum 10 orphan`) the boxes agree
// at once too (one follows the other, which holds over on the lost
// upstream), but the election waits until the root distance reaches 1 s,
// hours later: ntpserver/upstream's TestOrphanBakedConfig shows that
// timeline in simulation.
const orphanLocal = "local stratum 10 orphan distance 0 waitsynced 60 waitunsynced 30"

// orphanState is what one box serves: its stratum, reference ID, and the
// offset of its time from the host's in the reply with the shortest
// round trip of five, with that round trip (the offset is within
// delay/2 of the truth).
type orphanState struct {
	stratum int
	refid   string
	offset  time.Duration
	delay   time.Duration
}

func (s orphanState) String() string {
	return fmt.Sprintf("stratum %d refid %s offset %v delay %v", s.stratum, s.refid, s.offset, s.delay)
}

// orphanQuery asks a box five times and returns what it serves.
func orphanQuery(lab *qemu.Lab, addr string) (orphanState, error) {
	var st orphanState
	for i := range 5 {
		r, err := query(lab, addr)
		if err != nil {
			return st, err
		}
		st.stratum = int(r.Header.Stratum)
		st.refid = wire.RefIDString(r.Header.Stratum, r.Header.RefID)
		if i == 0 || r.Delay < st.delay {
			st.offset, st.delay = r.Offset, r.Delay
		}
	}
	return st, nil
}

// apart is how far apart two boxes' served times are, beyond what the
// two measurements can tell (each offset is within delay/2 of the
// truth); 0 when they cannot be told apart.
func apart(a, b orphanState) time.Duration {
	d := a.offset - b.offset
	if d < 0 {
		d = -d
	}
	return max(d-(a.delay+b.delay)/2, 0)
}

// Orphan mode: two boxes poll the lab's upstream and each other, with
// chrony's orphan mode. The upstream dies. Within 5 minutes the box with
// the lower address (the lower reference ID) serves its own clock at the
// orphan stratum, 10, and the other follows it at 11; they serve the same
// time, within 1 ms, and stay that way.
func TestOrphanTwoBoxesElectOneLeader(t *testing.T) {
	t.Parallel()
	lab, _, stopUpstream := closetLab(t)
	boxes := []struct{ addr, other, tap, mac string }{
		{"198.18.0.2", "198.18.0.3", lab.Tap, "52:54:00:12:34:56"},
		{"198.18.0.3", "198.18.0.2", "tap1", "52:54:00:12:34:57"},
	}
	if err := lab.AddTap("tap1"); err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		conf := fmt.Sprintf(`address %s/24
server %s iburst minpoll 0 maxpoll 2   # the lab's upstream
server %s iburst minpoll 0 maxpoll 2   # the other box
%s
makestep 1 3
allow all
`, b.addr, qemu.LabHostAddr, b.other, orphanLocal)
		disk := closetDisk(t, map[string]string{"ntpbox.conf": conf})
		qemu.StartT(t, qemu.Config{Disk: disk, Netns: lab.VMNetns, Tap: b.tap, MAC: b.mac, QMP: t.TempDir() + "/qmp.sock",
			Console: func(at time.Duration, line string) { t.Logf("%s %6.2fs| %s", b.addr, at.Seconds(), line) }})
	}
	for _, b := range boxes {
		waitAnswers(t, lab, b.addr, 3, bootTimeout+syncWithin)
	}
	// Let each box see the other synchronised for a while.
	time.Sleep(30 * time.Second)
	stopUpstream()
	killed := time.Now()
	t.Logf("upstream killed")

	leader, follower := boxes[0].addr, boxes[1].addr
	var settled time.Time
	for time.Since(killed) < 5*time.Minute {
		l, errL := orphanQuery(lab, leader)
		f, errF := orphanQuery(lab, follower)
		ago := time.Since(killed).Round(time.Second)
		if errL != nil || errF != nil {
			t.Logf("+%v: %s %v %v, %s %v %v", ago, leader, l, errL, follower, f, errF)
			time.Sleep(2 * time.Second)
			continue
		}
		diff := l.offset - f.offset
		t.Logf("+%v: %s %v; %s %v; difference %v (%v beyond the measurements' uncertainty)", ago, leader, l, follower, f, diff, apart(l, f))
		if l.stratum == 10 && l.refid == "127.127.1.1" && f.stratum == 11 && f.refid == leader && apart(l, f) < time.Millisecond {
			settled = time.Now()
			break
		}
		time.Sleep(2 * time.Second)
	}
	if settled.IsZero() {
		t.Fatalf("within 5 minutes of losing the upstream the boxes did not settle on %s at stratum 10 and %s at 11 following it, within 1 ms", leader, follower)
	}
	t.Logf("settled %.0f s after the upstream died", settled.Sub(killed).Seconds())
	// And stay so: a minute of samples, every one in agreement.
	var worst time.Duration
	for time.Since(settled) < time.Minute {
		l, errL := orphanQuery(lab, leader)
		f, errF := orphanQuery(lab, follower)
		if errL != nil || errF != nil {
			t.Fatalf("a box stopped answering: %v %v", errL, errF)
		}
		if l.stratum != 10 || f.stratum != 11 || f.refid != leader {
			t.Fatalf("the boxes changed roles: %s %v, %s %v", leader, l, follower, f)
		}
		worst = max(worst, apart(l, f))
		time.Sleep(2 * time.Second)
	}
	t.Logf("for a minute after: leader at stratum 10, follower at 11, served times at most %v apart beyond the measurements' uncertainty (delay/2 each)", worst)
	if worst >= time.Millisecond {
		t.Errorf("the boxes' served times were %v apart, want under 1 ms", worst)
	}
}
