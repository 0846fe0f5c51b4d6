package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
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
