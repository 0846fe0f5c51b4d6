package appliance

import (
	"compress/gzip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const aliases = `# Aliases extracted from modules themselves.
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias pci:v000010ECd00008168sv*sd*bc*sc*i* r8169
alias acpi*:LNXPWRBN:* button
alias acpi*:PNP0C0C:* button
`

func TestMatchModules(t *testing.T) {
	al, err := ParseAliases(strings.NewReader(aliases))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		modaliases []string
		want       []string
	}{
		{"virtio NIC behind PCI", []string{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", "virtio:d00000001v00001AF4"}, []string{"virtio_pci", "virtio_net"}},
		{"e1000 and the power button", []string{"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "acpi:LNXPWRBN:", "acpi:PNP0C0C:"}, []string{"e1000", "button"}},
		{"nothing known", []string{"pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00", ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchModules(al, tc.modaliases); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MatchModules = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseAliasesBadLine(t *testing.T) {
	if _, err := ParseAliases(strings.NewReader("alias a\n")); err == nil || !strings.Contains(err.Error(), "modules.alias:1") {
		t.Errorf("err = %v, want one naming line 1", err)
	}
}

// bruteMatch is MatchModules as it was before AliasIndex: every pattern
// against every modalias. The index must give the same answer.
func bruteMatch(aliases []Alias, modaliases []string) []string {
	var mods []string
	seen := map[string]bool{}
	for _, a := range aliases {
		if seen[a.Module] {
			continue
		}
		for _, m := range modaliases {
			if ok, _ := path.Match(a.Pattern, m); ok {
				seen[a.Module] = true
				mods = append(mods, a.Module)
				break
			}
		}
	}
	return mods
}

// realAliases is the image's modules.alias (Debian 6.1.0-57-amd64,
// trimmed to the modules the initramfs carries).
func realAliases(t testing.TB) []Alias {
	f, err := os.Open("testdata/modules.alias.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	al, err := ParseAliases(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(al) < 1000 {
		t.Fatalf("testdata/modules.alias.gz holds %d aliases; expected a real kernel's thousands", len(al))
	}
	return al
}

// Modaliases of the machines ntpbox boots on: QEMU's pc and q35 (virtio,
// e1000, e1000e, rtl8139, pcnet, PIIX IDE, AHCI, NVMe, xHCI, a USB stick,
// a USB NIC, the power button, the keyboard), and whatever this host has.
var pcModaliases = []string{
	"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
	"virtio:d00000001v00001AF4",
	"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
	"pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
	"pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00",
	"pci:v00001022d00002000sv00000000sd00000000bc02sc00i00",
	"pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80",
	"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
	"pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02",
	"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",
	"usb:v46F4p0001d0000dc00dsc00dp00ic08isc06ip50in00",
	"usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00",
	"acpi:LNXPWRBN:",
	"acpi:PNP0C0C:",
	"acpi:PNP0303:",
	"input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,73,74,75,76,77,79,7A,7B,7C,7D,7E,7F,80,ramsl0,1,2,sfw",
	"input:b0019v0000p0001e0000-e0,1,k74,ramlsfw",
	"platform:i8042",
	"",
}

func TestAliasIndexMatchesEveryPattern(t *testing.T) {
	al := realAliases(t)
	mods := slices.Clone(pcModaliases)
	files, _ := filepath.Glob("/sys/bus/*/devices/*/modalias")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			mods = append(mods, strings.TrimSpace(string(b)))
		}
	}
	want := bruteMatch(al, mods)
	for _, need := range []string{"virtio_pci", "virtio_net", "e1000", "ata_piix", "ahci", "nvme", "xhci_pci", "usb_storage", "button"} {
		if !slices.Contains(want, need) {
			t.Errorf("the reference match lacks %s: the test's modaliases do not cover what it claims (%v)", need, want)
		}
	}
	if got := MatchModules(al, mods); !reflect.DeepEqual(got, want) {
		t.Errorf("indexed match = %v\nevery pattern on every modalias = %v", got, want)
	}
	// One modalias at a time, as the hot-plug path sees them.
	for _, m := range mods {
		if got, want := MatchModules(al, []string{m}), bruteMatch(al, []string{m}); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: indexed %v, every pattern %v", m, got, want)
		}
	}
}

// BenchmarkMatchModules is one boot round on a QEMU pc: the index
// against trying every pattern.
func BenchmarkMatchModules(b *testing.B) {
	al := realAliases(b)
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			MatchModules(al, pcModaliases)
		}
	})
	b.Run("every-pattern", func(b *testing.B) {
		for b.Loop() {
			bruteMatch(al, pcModaliases)
		}
	})
}

// FuzzMatchModules adds one pattern to the real modules.alias and checks
// that the index agrees with trying every pattern, on one modalias.
func FuzzMatchModules(f *testing.F) {
	al := realAliases(f)
	for i, m := range pcModaliases {
		f.Add(al[(i*97)%len(al)].Pattern, m)
	}
	f.Add("acpi*:PNP0C0C:*", "acpi:PNP0C0C:")
	f.Add("*", "x")
	f.Add("pci:v[0-9]*", "pci:v1")
	f.Add("a\\:b*", "a:bc")
	f.Add("[", "[")
	f.Fuzz(func(t *testing.T, pattern, modalias string) {
		all := append(slices.Clone(al), Alias{Pattern: pattern, Module: "fuzzed"})
		got, want := MatchModules(all, []string{modalias}), bruteMatch(all, []string{modalias})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pattern %q, modalias %q: indexed %v, every pattern %v", pattern, modalias, got, want)
		}
	})
}
