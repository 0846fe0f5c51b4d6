package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Powerdown presses the VM's ACPI power button (QMP system_powerdown).
func (vm *VM) Powerdown() error {
	return qmp(vm.Config.QMP, "system_powerdown", nil)
}

// CtrlAltDel types Ctrl-Alt-Del on the VM's keyboard (QMP send-key).
func (vm *VM) CtrlAltDel() error {
	var keys []map[string]string
	for _, k := range []string{"ctrl", "alt", "delete"} {
		keys = append(keys, map[string]string{"type": "qcode", "data": k})
	}
	return qmp(vm.Config.QMP, "send-key", map[string]any{"keys": keys})
}

// SetLink plugs the VM's network cable in or pulls it out (QMP
// set_link on its NIC's backend): the guest sees the carrier come and go.
func (vm *VM) SetLink(up bool) error {
	return qmp(vm.Config.QMP, "set_link", map[string]any{"name": "n0", "up": up})
}

// Screen returns the text on the VM's screen: the VGA text buffer at
// 0xb8000, read from the guest's memory (QMP pmemsave), one line of 80
// characters for each row of the whole 32 KiB buffer, trailing spaces
// trimmed. The kernel's VGA text console (vgacon) writes there, as on a
// PC's screen; it scrolls within the buffer, so recent lines can be
// anywhere in it.
func (vm *VM) Screen() (string, error) {
	f, err := os.CreateTemp("", "ntpbox-screen-*")
	if err != nil {
		return "", err
	}
	f.Close()
	defer os.Remove(f.Name())
	err = qmp(vm.Config.QMP, "pmemsave", map[string]any{"val": 0xb8000, "size": 0x8000, "filename": f.Name()})
	if err != nil {
		return "", err
	}
	mem, err := os.ReadFile(f.Name())
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for row := 0; row+160 <= len(mem); row += 160 {
		line := make([]byte, 80)
		for i := range line {
			c := mem[row+2*i] // each cell is the character, then its colour
			if c < ' ' || c > '~' {
				c = ' '
			}
			line[i] = c
		}
		b.WriteString(strings.TrimRight(string(line), " "))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// qmp runs one QMP command over the socket at path.
func qmp(path, command string, args map[string]any) error {
	if path == "" {
		return fmt.Errorf("qmp %s: the VM has no QMP socket", command)
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	// The greeting, then capabilities negotiation, then the command;
	// events may come in between.
	if _, err := r.ReadBytes('\n'); err != nil {
		return fmt.Errorf("qmp greeting: %w", err)
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		req := map[string]any{"execute": cmd}
		if cmd == command && args != nil {
			req["arguments"] = args
		}
		if err := json.NewEncoder(c).Encode(req); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("qmp %s: %w", cmd, err)
			}
			var reply struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Desc string `json:"desc"`
				} `json:"error"`
			}
			if json.Unmarshal(line, &reply) != nil {
				continue
			}
			if reply.Error != nil {
				return fmt.Errorf("qmp %s: %s", cmd, reply.Error.Desc)
			}
			if reply.Return != nil {
				break
			}
		}
	}
	return nil
}

// QMP runs one QMP command (blockdev-add, device_add, ...) on the VM's
// QMP socket.
func (vm *VM) QMP(command string, args map[string]any) error {
	return qmp(vm.Config.QMP, command, args)
}
