package appliance

import (
	"reflect"
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
