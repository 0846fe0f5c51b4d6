package layout

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/ntpbox/ntpbox/"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// packages lists the module's packages with go list.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	all := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		all[strings.TrimPrefix(p.ImportPath, mod)] = p
	}
	return all
}

// service names the service a package belongs to, or "".
func service(path string) string {
	path = strings.TrimPrefix(path, mod)
	for _, s := range []string{"ntpserver", "dhcpopt", "dnssrv", "control"} {
		if path == s || strings.HasPrefix(path, s+"/") {
			return s
		}
	}
	return ""
}

// TestServicesDoNotImportEachOther: ntpserver (with its subpackages),
// dhcpopt, dnssrv and control each import config and netstate, never
// another service; control may read ntpserver/upstream's report types.
func TestServicesDoNotImportEachOther(t *testing.T) {
	for path, p := range packages(t) {
		own := service(path)
		if own == "" {
			continue
		}
		for _, imp := range p.Imports {
			other := service(imp)
			if other == "" || other == own {
				continue
			}
			if own == "control" && imp == mod+"ntpserver/upstream" {
				continue
			}
			t.Errorf("%s (service %s) imports %s (service %s)", path, own, strings.TrimPrefix(imp, mod), other)
		}
	}
}

// TestNTPKnowsNothingOfDHCPOrDNS: nothing under ntpserver depends on the
// DHCP or DNS code, even indirectly.
func TestNTPKnowsNothingOfDHCPOrDNS(t *testing.T) {
	for path, p := range packages(t) {
		if service(path) != "ntpserver" {
			continue
		}
		for _, d := range p.Deps {
			if s := service(d); s == "dhcpopt" || s == "dnssrv" || strings.HasPrefix(d, "github.com/miekg/dns") ||
				strings.HasPrefix(d, "github.com/insomniacslk/dhcp") {
				t.Errorf("%s depends on %s", path, d)
			}
		}
	}
}

// TestOnePackageWires: exactly one package puts the NTP service, DHCP and
// DNS together.
func TestOnePackageWires(t *testing.T) {
	var wiring []string
	for path, p := range packages(t) {
		if slices.Contains(p.Imports, mod+"ntpserver/daemon") && slices.Contains(p.Imports, mod+"dhcpopt") &&
			slices.Contains(p.Imports, mod+"dnssrv") {
			wiring = append(wiring, path)
		}
	}
	if !slices.Equal(wiring, []string{"box"}) {
		t.Errorf("packages importing ntpserver/daemon, dhcpopt and dnssrv: %v, want [box]", wiring)
	}
}

// TestWireCodecDoesNoIO: the NTP codec imports nothing that does I/O.
func TestWireCodecDoesNoIO(t *testing.T) {
	allowed := []string{"encoding/binary", "errors", "math", "time", "strconv"}
	p := packages(t)["ntpserver/wire"]
	for _, imp := range p.Imports {
		if !slices.Contains(allowed, imp) {
			t.Errorf("ntpserver/wire imports %s; the codec may import only %v", imp, allowed)
		}
	}
}

// TestUpstreamOwnsItsReports: the engine does not depend on the control
// code; the control code reads the engine's reports.
func TestUpstreamOwnsItsReports(t *testing.T) {
	all := packages(t)
	if slices.Contains(all["ntpserver/upstream"].Deps, mod+"control") {
		t.Error("ntpserver/upstream depends on control")
	}
	if !slices.Contains(all["control"].Imports, mod+"ntpserver/upstream") {
		t.Error("control does not take its report types from ntpserver/upstream")
	}
}

// TestOnlyConfigParsesDirectives: DHCP and DNS take typed values; the
// packages that serve never see a directive word. A parser of directive
// words shows as a switch on one: `case "allow"`, `case "server"`...
func TestOnlyConfigParsesDirectives(t *testing.T) {
	directive := regexp.MustCompile(`case "(allow|deny|server|pool|local|dhcp|dns|address|nameserver|gateway|advertise|makestep|driftfile)"`)
	for path, p := range packages(t) {
		if path == "config" || strings.HasPrefix(path, "qemu") || strings.HasPrefix(path, "cmd/") || path == "internal/nstest" {
			continue
		}
		grepFiles(t, p, directive, func(file string, line int, text string) {
			t.Errorf("%s:%d: a directive word outside package config: %s", file, line, strings.TrimSpace(text))
		})
	}
}

// TestOnlyClockTouchesTheClock: the kernel clock is set and steered in
// ntpserver/clock and nowhere else.
func TestOnlyClockTouchesTheClock(t *testing.T) {
	call := regexp.MustCompile(`\b(Adjtimex|ClockAdjtime|ClockSettime|Settimeofday)\(`)
	for path, p := range packages(t) {
		if path == "ntpserver/clock" {
			continue
		}
		grepFiles(t, p, call, func(file string, line int, text string) {
			t.Errorf("%s:%d: touches the kernel clock outside ntpserver/clock: %s", file, line, strings.TrimSpace(text))
		})
	}
}

func grepFiles(t *testing.T, p pkg, re *regexp.Regexp, found func(file string, line int, text string)) {
	t.Helper()
	for _, name := range p.GoFiles {
		f, err := os.Open(filepath.Join(p.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if re.MatchString(sc.Text()) {
				found(filepath.Join(filepath.Base(p.Dir), name), n, sc.Text())
			}
		}
		f.Close()
	}
}
