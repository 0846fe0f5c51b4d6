package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/ntpbox/ntpbox/config"
)

// Where the appliance keeps its config.
const (
	BakedConfig = "/etc/ntpbox.conf" // in the initramfs, validated when the image was built
	// RunConfig is the merged config init hands `ntpbox serve` and
	// `ntpbox config` (config.Encode), rewritten when the lease changes.
	RunConfig = "/run/ntpbox/config.json"
)

// boxConfig is the box's config layers as read at boot, with the bad
// parts set aside: merge adds the DHCP lease of the moment.
type boxConfig struct {
	parts []config.Part // the appliance's defaults, the file in use, the kernel command line, cmdline.txt
	base  config.Part   // the file in use: /perm/ntpbox.conf, its last good copy, or the baked one
	// permData is /perm/ntpbox.conf when it is the file in use, to keep
	// as the last good config once the box has served with it.
	permData []byte
	// problems say what is wrong with the config, for every console.
	problems []string
	// hooks are the ntpbox.test* parameters: test hooks, not config.
	hooks map[string]string
	// perm says whether PermDir was mounted when the layers were read.
	perm bool
}

// loadConfig reads the config layers. Nothing bad in them stops the box:
//
//   - a bad /perm/ntpbox.conf is replaced by the last config that booted
//     and served (PermLastGood), or, on a box that never served with one,
//     by the file without its bad lines, so that a typo never turns a
//     static address into DHCP or drops the admin's servers;
//   - a bad command line parameter is left out, the others are kept;
//   - every problem is logged and kept for the banner on every console.
func (in *Init) loadConfig(perm bool) *boxConfig {
	bc := &boxConfig{hooks: map[string]string{}, perm: perm}
	drift := ""
	if perm {
		drift = PermDrift
	}
	defaults := config.ApplianceDefaults(drift)

	baked, err := in.Sys.ReadFile(BakedConfig)
	if err != nil {
		bc.problem("read the baked-in config: %v", err)
	}
	bc.base = config.FilePart(config.LayerBaked, BakedConfig, baked)
	if perm {
		bc.choosePerm(in, defaults)
	}

	var params []config.Param
	if b, err := in.Sys.ReadFile("/proc/cmdline"); err != nil {
		bc.problem("read the kernel command line: %v", err)
	} else if params, err = config.ReadCmdline(bytes.NewReader(b)); err != nil {
		bc.problem("%v", err)
	}
	bc.takeHooks(params)
	kernel, errs := config.CmdlinePart(config.LayerKernel, "kernel command line", params)
	for _, err := range errs {
		bc.problem("ignored: %v", err)
	}
	parts := []config.Part{defaults, bc.base, kernel}
	if perm {
		if b, err := in.Sys.ReadFile(PermCmdline); err == nil {
			ps, err := config.ReadCmdline(bytes.NewReader(b))
			if err != nil {
				bc.problem("%s: %v", PermCmdline, err)
			}
			bc.takeHooks(ps)
			txt, errs := config.CmdlinePart(config.LayerCmdlineTxt, PermCmdline, ps)
			for _, err := range errs {
				bc.problem("ignored: %v", err)
			}
			parts = append(parts, txt)
		}
	}
	bc.parts = bc.checkParts(in, parts)
	return bc
}

// choosePerm makes /perm/ntpbox.conf the base when it is valid, and
// otherwise its last good copy or its good lines.
func (bc *boxConfig) choosePerm(in *Init, defaults config.Part) {
	data, err := in.Sys.ReadFile(PermConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return // no file on the partition: the baked config
	}
	part := config.FilePart(config.LayerPerm, PermConfig, data)
	if err != nil {
		// A file that is there but cannot be read must not silently
		// turn into the baked config (and its address dhcp).
		bc.problem("%s cannot be read: %v", PermConfig, err)
		part = config.Part{Layer: config.LayerPerm, Name: PermConfig}
	} else if _, _, err = config.Merge(nil, nil, defaults, part); err == nil {
		bc.base, bc.permData = part, data
		return
	} else {
		bc.problem("%s is invalid:\n%v", PermConfig, err)
	}
	if good, ok := in.lastGood(); ok {
		lg := config.FilePart(config.LayerLastGood, PermLastGood, good)
		if _, _, err := config.Merge(nil, nil, defaults, lg); err == nil {
			bc.problem("running the last config that booted and served, %s, until %s is fixed", PermLastGood, PermConfig)
			bc.base = lg
			return
		}
	}
	bc.problem("no last good config yet: running %s without its bad lines", PermConfig)
	bc.base = part.Without(err)
}

// checkParts merges the parts as they will be merged with a lease, and
// leaves out the command line parameters that make that fail; if the
// base file still fails with them (a rule across its lines), it falls
// back to the baked config.
func (bc *boxConfig) checkParts(in *Init, parts []config.Part) []config.Part {
	for try := 0; try < 4; try++ { // strip the command line, fall back to baked, strip again, check
		_, _, err := config.Merge(nil, nil, parts...)
		if err == nil {
			return parts
		}
		bad := config.BadLayers(err)
		cmdline := false
		for i, p := range parts {
			if (p.Layer == config.LayerKernel || p.Layer == config.LayerCmdlineTxt) && bad[p.Layer] {
				parts[i] = p.Without(err)
				cmdline = true
			}
		}
		if cmdline {
			bc.problem("ignored on the command line:\n%v", onlyLayers(err, config.LayerKernel, config.LayerCmdlineTxt))
			continue
		}
		bc.problem("the config is invalid with the command line:\n%v", err)
		if bc.base.Layer == config.LayerBaked {
			parts[1] = config.Part{Layer: config.LayerBaked, Name: BakedConfig}
		} else {
			baked, err := in.Sys.ReadFile(BakedConfig)
			if err != nil {
				bc.problem("read the baked-in config: %v", err)
			}
			bc.base = config.FilePart(config.LayerBaked, BakedConfig, baked)
			bc.permData = nil
			parts[1] = bc.base
			bc.problem("running the baked-in config")
		}
	}
	return parts[:1] // the appliance's defaults alone: DHCP, and serve the LAN
}

// onlyLayers keeps the errors of err that blame one of layers.
func onlyLayers(err error, layers ...config.Layer) error {
	var out []error
	for _, e := range config.Errors(err) {
		if slices.Contains(layers, e.Origin.Layer) {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// takeHooks keeps the ntpbox.test* parameters.
func (bc *boxConfig) takeHooks(params []config.Param) {
	for _, p := range params {
		key := strings.ToLower(p.Key)
		if k, ok := strings.CutPrefix(key, config.CmdlinePrefix+"test"); ok {
			bc.hooks["test"+k] = p.Value
		}
	}
}

func (bc *boxConfig) problem(format string, args ...any) {
	bc.problems = append(bc.problems, fmt.Sprintf(format, args...))
}

// merge is the config with the lease of the moment (nil for none).
//
// While PermDir is not mounted, state files under it are left out (the
// drift file, the DHCP lease file and its record of other servers: the
// services then keep them in memory), so that nothing is written to
// the initramfs's empty /perm, and a lease file on a disk that comes
// later is read when it comes, never overwritten by the leases handed
// out before it.
func (bc *boxConfig) merge(lease *config.Lease) (*config.Config, error) {
	cfg, _, err := config.Merge(nil, lease, bc.parts...)
	if err == nil && !bc.perm {
		onPerm := func(f string) bool { return f == PermDir || strings.HasPrefix(f, PermDir+"/") }
		if onPerm(cfg.DriftFile) {
			cfg.DriftFile = ""
		}
		if cfg.DHCP != nil && onPerm(cfg.DHCP.LeaseFile) {
			d := *cfg.DHCP
			d.LeaseFile = ""
			cfg.DHCP = &d
		}
	}
	return cfg, err
}
