package dhcpopt

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// SnippetKinds are the DHCP servers [Snippet] knows.
var SnippetKinds = []string{"isc-dhcpd", "kea", "dnsmasq", "openwrt", "routeros", "windows"}

// Snippet returns the configuration an administrator pastes into an
// existing DHCP server of the given kind so that it hands out servers in
// option 42. The servers must be IPv4: option 42 carries nothing else.
func Snippet(kind string, servers []netip.Addr) (string, error) {
	if len(servers) == 0 {
		return "", errors.New("snippet: no NTP servers")
	}
	list := make([]string, len(servers))
	for i, a := range servers {
		if !a.Is4() {
			return "", fmt.Errorf("snippet: %v is not IPv4 (DHCP option 42 carries IPv4 addresses)", a)
		}
		list[i] = a.String()
	}
	switch kind {
	case "isc-dhcpd":
		return "# dhcpd.conf, global or inside a subnet { } block\n" +
			"option ntp-servers " + strings.Join(list, ", ") + ";\n", nil
	case "kea":
		return kea(list)
	case "dnsmasq":
		return "# dnsmasq.conf\n" +
			"dhcp-option=option:ntp-server," + strings.Join(list, ",") + "\n", nil
	case "openwrt":
		return "uci add_list dhcp.lan.dhcp_option='42," + strings.Join(list, ",") + "'\n" +
			"uci commit dhcp\n" +
			"/etc/init.d/dnsmasq restart\n", nil
	case "routeros":
		// RouterOS ≥ 6.8 value syntax: '1.2.3.4' is an IP address, adjacent
		// values are concatenated.
		v := "'" + strings.Join(list, "''") + "'"
		return "/ip dhcp-server option add name=ntpbox code=42 value=\"" + v + "\"\n" +
			"# replaces the networks' dhcp-option lists; append ntpbox to an existing list instead\n" +
			"/ip dhcp-server network set [find] dhcp-option=ntpbox\n", nil
	case "windows":
		return "# PowerShell, as an administrator on the DHCP server (server-wide option)\n" +
			"Set-DhcpServerv4OptionValue -OptionId 42 -Value " + strings.Join(quoted(list), ",") + "\n", nil
	}
	return "", fmt.Errorf("snippet: unknown kind %q (want one of %s)", kind, strings.Join(SnippetKinds, ", "))
}

func quoted(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = `"` + s + `"`
	}
	return out
}

func kea(list []string) (string, error) {
	type option struct {
		Name string `json:"name"`
		Data string `json:"data"`
	}
	v := map[string][]option{"option-data": {{Name: "ntp-servers", Data: strings.Join(list, ", ")}}}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return "// kea-dhcp4.conf: merge into \"Dhcp4\" or a \"subnet4\" entry\n" + string(b) + "\n", nil
}
