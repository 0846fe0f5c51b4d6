package appliance

import (
	"encoding/binary"
	"strings"
	"testing"
)

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12345 2 0000000000000000 0
  456: 0100007F:2B7B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12346 2 0000000000000000 0
`

func TestListensUDP(t *testing.T) {
	for port, want := range map[int]bool{123: true, 11131: true, 124: false} {
		if got := listensUDP(strings.NewReader(procNetUDP), port); got != want {
			t.Errorf("port %d: %v, want %v", port, got, want)
		}
	}
	if listensUDP(strings.NewReader("header only\n"), 123) {
		t.Error("empty table listens")
	}
}

func TestIsPowerPress(t *testing.T) {
	ev := func(typ, code uint16, value int32) []byte {
		b := make([]byte, inputEventSize)
		binary.LittleEndian.PutUint16(b[16:], typ)
		binary.LittleEndian.PutUint16(b[18:], code)
		binary.LittleEndian.PutUint32(b[20:], uint32(value))
		return b
	}
	for _, tc := range []struct {
		name string
		ev   []byte
		want bool
	}{
		{"press", ev(evKey, keyPower, 1), true},
		{"release", ev(evKey, keyPower, 0), false},
		{"other key", ev(evKey, 115, 1), false},
		{"sync event", ev(0, 0, 0), false},
		{"short", ev(evKey, keyPower, 1)[:16], false},
	} {
		if got := isPowerPress(tc.ev); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
