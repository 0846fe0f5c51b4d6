package config

import (
	"fmt"
	"strconv"
)

// Layer is where a setting came from. The box's config is merged from
// layers, each with its own precedence (see Merge): a later layer's
// setting replaces an earlier one's.
type Layer uint8

const (
	LayerDefault    Layer = iota // built in: chrony's defaults, and the appliance's own (see ApplianceDefaults)
	LayerBaked                   // the config baked into the image (/etc/ntpbox.conf on the appliance)
	LayerPerm                    // the admin's file on the persistent partition (/perm/ntpbox.conf)
	LayerLastGood                // the last config from /perm that booted and served, used when the current one is bad
	LayerFile                    // a config file on an ordinary host (`ntpbox serve -f FILE`)
	LayerLease                   // what a DHCP lease gave: address, router, DNS and NTP servers
	LayerKernel                  // the kernel command line (ntpbox.DIRECTIVE=ARGS)
	LayerCmdlineTxt              // cmdline.txt on the persistent partition (same syntax as the kernel's)
)

var layerNames = [...]string{
	LayerDefault:    "default",
	LayerBaked:      "baked",
	LayerPerm:       "perm",
	LayerLastGood:   "last-good",
	LayerFile:       "file",
	LayerLease:      "lease",
	LayerKernel:     "kernel",
	LayerCmdlineTxt: "cmdline.txt",
}

func (l Layer) String() string {
	if int(l) < len(layerNames) {
		return layerNames[l]
	}
	return fmt.Sprintf("Layer(%d)", int(l))
}

// MarshalText and UnmarshalText write a Layer by name (in JSON too).
func (l Layer) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *Layer) UnmarshalText(b []byte) error {
	for i, n := range layerNames {
		if n == string(b) {
			*l = Layer(i)
			return nil
		}
	}
	return fmt.Errorf("unknown config layer %q", b)
}

// Origin is where one setting came from: a line of a file or of the
// kernel command line, a DHCP lease, or a built-in default.
type Origin struct {
	Layer Layer  `json:"layer"`
	File  string `json:"file,omitempty"` // the file, or "kernel command line"; "" for defaults and leases
	Line  int    `json:"line,omitempty"` // 1-based; for a command line, the parameter's position
	// Note says more where the file and line do not: the command line
	// parameter as written, or the DHCP server a lease came from.
	Note string `json:"note,omitempty"`
}

// String returns "file:line" for a file, and otherwise what is known:
// "kernel command line (ntpbox.server=...)", "DHCP lease (...)",
// "default".
func (o Origin) String() string {
	switch {
	case o.File != "" && o.Line > 0 && (o.Layer == LayerKernel || o.Layer == LayerCmdlineTxt) && o.Note != "":
		return o.File + " (" + o.Note + ")"
	case o.File != "" && o.Line > 0:
		return o.File + ":" + strconv.Itoa(o.Line)
	case o.File != "":
		return o.File
	case o.Layer == LayerLease:
		if o.Note != "" {
			return "DHCP lease (" + o.Note + ")"
		}
		return "DHCP lease"
	case o.Note != "":
		return o.Layer.String() + " (" + o.Note + ")"
	}
	return o.Layer.String()
}
