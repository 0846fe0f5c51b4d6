package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// This file is the two commands that change the daemon's state besides
// reload: makestep and burst. chronyc sends them only over chronyd's
// local socket; ntpbox takes them only on its control socket (root or
// the socket's owner), never on the command port.

// Clock is a Provider that can step the clock and make its sources
// burst.
type Clock interface {
	// MakeStep steps the clock to the current estimate at once and
	// returns the step; it fails when the daemon does not control the
	// clock (-x).
	MakeStep() (time.Duration, error)
	// Burst starts a burst on the sources a matches and returns how
	// many.
	Burst(a BurstArgs) (int, error)
}

// MakeStepResult is the answer to CmdMakeStep.
type MakeStepResult struct {
	Step time.Duration `json:"step"` // positive: the clock moved forward
}

// BurstArgs are burst's arguments, chronyc's GOOD/MAX [MASK/ADDRESS]:
// each source polls up to Max times, 2 s apart, until Good good samples
// came. With Prefix, only the sources whose address is in it; with
// Name, only the source of that configured name; with neither, all.
type BurstArgs struct {
	Good   int          `json:"good"`
	Max    int          `json:"max"`
	Prefix netip.Prefix `json:"prefix,omitzero"`
	Name   string       `json:"name,omitempty"`
}

// Match reports whether the source of configured name and address addr
// is one a burst is for.
func (a BurstArgs) Match(name string, addr netip.Addr) bool {
	switch {
	case a.Name != "":
		return name == a.Name || addr.IsValid() && addr.String() == a.Name
	case a.Prefix.IsValid():
		return a.Prefix.Contains(addr.Unmap())
	}
	return true
}

// BurstResult is the answer to CmdBurst.
type BurstResult struct {
	Sources int `json:"sources"` // how many sources burst
}

// clockCommand answers makestep and burst.
func clockCommand(p Provider, req request) ([]byte, error) {
	c, ok := p.(Clock)
	if !ok {
		return errorLine("this daemon cannot " + req.Cmd), nil
	}
	switch req.Cmd {
	case CmdMakeStep:
		step, err := c.MakeStep()
		if err != nil {
			return errorLine("makestep refused: " + err.Error()), nil
		}
		return resultLine(req.Cmd, MakeStepResult{Step: step})
	default:
		var a BurstArgs
		if err := json.Unmarshal(req.Args, &a); err != nil {
			return errorLine(fmt.Sprintf("bad burst arguments: %v", err)), nil
		}
		n, err := c.Burst(a)
		switch {
		case err != nil:
			return errorLine("burst refused: " + err.Error()), nil
		case n == 0:
			return errorLine("burst: no such source (none with an address matches)"), nil
		}
		return resultLine(req.Cmd, BurstResult{Sources: n})
	}
}

// ParseBurst parses chronyc burst's arguments: "GOOD/MAX" and an
// optional "MASK/ADDRESS", "ADDRESS/BITS", ADDRESS or a source's
// configured name.
func ParseBurst(args []string) (BurstArgs, error) {
	var a BurstArgs
	if len(args) < 1 || len(args) > 2 {
		return a, errors.New("want GOOD/MAX [MASK/ADDRESS]")
	}
	var rest string
	if n, err := fmt.Sscanf(args[0], "%d/%d%s", &a.Good, &a.Max, &rest); n != 2 || err == nil {
		return a, fmt.Errorf("%q: want GOOD/MAX, e.g. 4/8", args[0])
	}
	if a.Max < 1 || a.Max > 64 || a.Good < 0 || a.Good > a.Max {
		return a, fmt.Errorf("%q: want 0 ≤ GOOD ≤ MAX and 1 ≤ MAX ≤ 64", args[0])
	}
	if len(args) == 1 {
		return a, nil
	}
	s := args[1]
	if m, addr, ok := cutMaskAddress(s); ok {
		a.Prefix = netip.PrefixFrom(addr, m).Masked()
		return a, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		a.Prefix = p.Masked()
		return a, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		a.Prefix = netip.PrefixFrom(ip, ip.BitLen())
		return a, nil
	}
	if strings.Contains(s, "/") {
		return a, fmt.Errorf("%q: want MASK/ADDRESS (a mask whose ones come first, e.g. 255.255.255.0/192.0.2.0) or ADDRESS/BITS", s)
	}
	if len(s) == 0 || len(s) > 253 {
		return a, fmt.Errorf("%q: want MASK/ADDRESS, ADDRESS/BITS, an address or a source's name", s)
	}
	a.Name = s
	return a, nil
}

// cutMaskAddress parses chrony's MASK/ADDRESS (255.255.255.0/192.0.2.0)
// into the mask's length and the address; a mask whose ones do not all
// come first is refused.
func cutMaskAddress(s string) (bits int, addr netip.Addr, ok bool) {
	m, a, found := strings.Cut(s, "/")
	if !found {
		return 0, addr, false
	}
	mask, err1 := netip.ParseAddr(m)
	addr, err2 := netip.ParseAddr(a)
	if err1 != nil || err2 != nil || mask.Is4() != addr.Is4() {
		return 0, addr, false
	}
	b := mask.AsSlice()
	bit := func(i int) bool { return b[i/8]&(0x80>>(i%8)) != 0 }
	for bits < len(b)*8 && bit(bits) {
		bits++
	}
	for i := bits; i < len(b)*8; i++ {
		if bit(i) {
			return 0, addr, false
		}
	}
	return bits, addr, true
}
