//go:build linux

package qemu_test

import (
	"context"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/appliance"
	"github.com/ntpbox/ntpbox/ntpserver"
	"github.com/ntpbox/ntpbox/qemu"
)

// On an e1000 NIC (so that a second driver is loaded by its modalias),
// the service dies (ntpbox.testkill=1 makes init SIGKILL it once it
// serves); init restarts it and it serves again. Then Ctrl-Alt-Del
// stops it and powers off.
func TestSupervisorRestartsServiceInVM(t *testing.T) {
	lab, vm := bootLab(t, "e1000", 256, "ntpbox.testkill=1")
	for _, want := range []string{
		appliance.SentinelServing + " (run 1",
		"killed by signal",
		appliance.SentinelServing + " (run 2",
	} {
		if _, err := vm.Expect(want, bootTimeout); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := ntpserver.Query(ctx, lab.DialClient, qemu.LabVMAddr+":123", 4, time.Now)
	if err != nil {
		t.Fatalf("query after the restart: %v", err)
	}
	if r.Header.Stratum != wantStratum {
		t.Errorf("stratum %d after the restart, want %d", r.Header.Stratum, wantStratum)
	}

	if err := vm.CtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Expect(appliance.SentinelPowerOff+" (signal interrupt)", stopTimeout); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(stopTimeout); err != nil {
		t.Fatalf("QEMU after power off: %v", err)
	}
}
