package appliance

import "encoding/binary"

// Linux input events (linux/input.h, linux/input-event-codes.h).
const (
	evKey    = 0x01
	keyPower = 116
)

// inputEventSize is sizeof(struct input_event) on 64-bit Linux: a
// struct timeval (two longs), then type u16, code u16, value s32.
const inputEventSize = 24

// isPowerPress reports whether one struct input_event (native byte order,
// little-endian on the machines ntpbox runs on) is the power key going
// down.
func isPowerPress(ev []byte) bool {
	if len(ev) != inputEventSize {
		return false
	}
	typ := binary.LittleEndian.Uint16(ev[16:])
	code := binary.LittleEndian.Uint16(ev[18:])
	value := int32(binary.LittleEndian.Uint32(ev[20:]))
	return typ == evKey && code == keyPower && value == 1
}
