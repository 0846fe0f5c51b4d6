package dhcpopt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

// This file is the stateless DHCPv6 service (RFC 8415 §6.1): the box
// answers Information-Request with a Reply carrying the NTP Server option
// (56, RFC 5908) and, when asked, the DNS options 23 and 24 (RFC 3646). It
// never assigns addresses: Solicit, Request, Renew and the other stateful
// messages are ignored and counted.

// Ports of RFC 8415 §7.2.
const (
	ServerPort6 = 547
	ClientPort6 = 546
)

// AllDHCPRelayAgentsAndServers is the group ff02::1:2 a DHCPv6 server
// listens on (RFC 8415 §7.1).
var AllDHCPRelayAgentsAndServers = netip.MustParseAddr("ff02::1:2")

// Option codes the handler serves (RFC 8415 §21, RFC 3646, RFC 5908).
const (
	optClientID        = 1
	optServerID        = 2
	optIANA            = 3
	optIATA            = 4
	optORO             = 6
	optIAPD            = 25
	optDNSServers      = 23
	optDomainList      = 24
	optInfoRefresh     = 32
	optNTPServer       = 56
	ntpSubSrvAddr      = 1
	ntpSubSrvFQDN      = 3
	maxDUIDLen         = 128 // RFC 8415 §11.1
	minIRT             = 600 * time.Second
	defaultInfoRefresh = 86400 * time.Second // IRT_DEFAULT, RFC 8415 §21.23
)

// V6Config is the DHCPv6 handler's configuration.
type V6Config struct {
	// HWAddr is the LAN interface's MAC address; the server identifier is
	// the DUID-LL built from it (RFC 8415 §11.4).
	HWAddr net.HardwareAddr
	// NTPServers are sent as NTP_SUBOPTION_SRV_ADDR suboptions of option
	// 56, in order. IPv6 unicast addresses, not link-local.
	NTPServers []netip.Addr
	// NTPNames are sent as NTP_SUBOPTION_SRV_FQDN suboptions after the
	// addresses.
	NTPNames []string
	// DNSServers are option 23 (DNS Recursive Name Server); none means the
	// option is not sent.
	DNSServers []netip.Addr
	// Domains are option 24 (Domain Search List); none means the option is
	// not sent.
	Domains []string
	// InfoRefresh is option 32 (Information Refresh Time), sent when the
	// client asks for it; 0 means 86400 seconds (IRT_DEFAULT), at least
	// 600 seconds (IRT_MINIMUM).
	InfoRefresh time.Duration
}

// Validate checks the configuration.
func (c V6Config) Validate() error {
	if len(c.HWAddr) == 0 || len(c.HWAddr)+4 > maxDUIDLen {
		return fmt.Errorf("dhcp6: expected an interface with a link-layer address for the server DUID, got %q", c.HWAddr.String())
	}
	if len(c.NTPServers) == 0 && len(c.NTPNames) == 0 {
		return errors.New("dhcp6: expected at least one IPv6 NTP server address or name, got none")
	}
	for _, a := range c.NTPServers {
		if !usable6(a) {
			return fmt.Errorf("dhcp6: expected IPv6 unicast NTP servers, not link-local, without zone, got %v", a)
		}
	}
	for _, a := range c.DNSServers {
		if !usable6(a) {
			return fmt.Errorf("dhcp6: expected IPv6 unicast DNS servers, not link-local, without zone, got %v", a)
		}
	}
	for _, n := range append(append([]string(nil), c.NTPNames...), c.Domains...) {
		if !domainName(n) {
			return fmt.Errorf("dhcp6: expected a domain name, got %q", n)
		}
	}
	if c.InfoRefresh != 0 && c.InfoRefresh < minIRT {
		return fmt.Errorf("dhcp6: expected an information refresh time of at least %v, got %v", minIRT, c.InfoRefresh)
	}
	return nil
}

func usable6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.Zone() == "" && !a.IsUnspecified() && !a.IsMulticast() &&
		!a.IsLinkLocalUnicast() && !a.IsLoopback()
}

// domainName reports whether s is a domain name the wire format can carry:
// labels of 1 to 63 characters, 253 in all, a final dot allowed.
func domainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if c <= ' ' || c >= 0x7f || c == '\\' || c == '"' {
				return false
			}
		}
	}
	return true
}

// Stats6 counts what the DHCPv6 handler did.
type Stats6 struct {
	Replies   uint64 // Information-Requests answered
	Ignored   uint64 // well-formed messages not answered: stateful messages, server messages, relays, another server's id
	Malformed uint64 // messages that did not decode or broke RFC 8415
}

// Handler6 decides the DHCPv6 replies. It is safe for concurrent use; its
// only state is the counters.
type Handler6 struct {
	duid []byte            // DUID-LL
	opts map[uint16][]byte // the values of the options a client may request, by code

	mu    sync.Mutex
	stats Stats6
}

// NewHandler6 validates cfg and returns a handler.
func NewHandler6(cfg V6Config) (*Handler6, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	duid := (&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: cfg.HWAddr}).ToBytes()
	h := &Handler6{duid: duid, opts: map[uint16][]byte{}}
	ntp := &dhcpv6.OptNTPServer{}
	for _, a := range cfg.NTPServers {
		s := dhcpv6.NTPSuboptionSrvAddr(net.IP(a.AsSlice()))
		ntp.Suboptions.Add(&s)
	}
	for _, n := range cfg.NTPNames {
		ntp.Suboptions.Add(&dhcpv6.NTPSuboptionSrvFQDN{Labels: rfc1035label.Labels{Labels: []string{strings.TrimSuffix(n, ".")}}})
	}
	h.opts[optNTPServer] = ntp.ToBytes()
	if len(cfg.DNSServers) > 0 {
		var ips []net.IP
		for _, a := range cfg.DNSServers {
			ips = append(ips, net.IP(a.AsSlice()))
		}
		h.opts[optDNSServers] = dhcpv6.OptDNS(ips...).ToBytes()
	}
	if len(cfg.Domains) > 0 {
		var names []string
		for _, d := range cfg.Domains {
			names = append(names, strings.TrimSuffix(d, "."))
		}
		h.opts[optDomainList] = dhcpv6.OptDomainSearchList(&rfc1035label.Labels{Labels: names}).ToBytes()
	}
	irt := cfg.InfoRefresh
	if irt == 0 {
		irt = defaultInfoRefresh
	}
	h.opts[optInfoRefresh] = binary.BigEndian.AppendUint32(nil, uint32(irt/time.Second))
	return h, nil
}

// ServerDUID is the server identifier: a DUID-LL of the interface's MAC.
func (h *Handler6) ServerDUID() []byte { return bytes.Clone(h.duid) }

// Stats returns the counters.
func (h *Handler6) Stats() Stats6 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// Errors wrapped by Handle when it sends no reply.
var (
	// ErrMalformed6: the message does not decode or breaks RFC 8415.
	ErrMalformed6 = errors.New("malformed DHCPv6 message")
	// ErrIgnored6: a well-formed message the stateless service does not
	// answer.
	ErrIgnored6 = errors.New("DHCPv6 message ignored")
)

// Handle returns the reply to the DHCPv6 message req, a UDP payload
// received on port 547. A nil reply comes with an error wrapping
// ErrMalformed6 or ErrIgnored6 that says why the message was dropped; both
// are counted. Handle never panics.
//
// An Information-Request gets a Reply (RFC 8415 §18.3.6) with the same
// transaction id, the Server Identifier, the client's Client Identifier
// when it sent one, and of options 23, 24, 32 and 56 those its Option
// Request option names. An Information-Request that names another server
// or carries an IA option is ignored (§16.12). Messages that would get an
// address or a prefix are ignored: the service is stateless.
func (h *Handler6) Handle(req []byte) ([]byte, error) {
	resp, err := h.handle(req)
	h.mu.Lock()
	switch {
	case err == nil:
		h.stats.Replies++
	case errors.Is(err, ErrMalformed6):
		h.stats.Malformed++
	default:
		h.stats.Ignored++
	}
	h.mu.Unlock()
	return resp, err
}

func (h *Handler6) handle(req []byte) ([]byte, error) {
	if len(req) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 4-byte header", ErrMalformed6, len(req))
	}
	mt := dhcpv6.MessageType(req[0])
	switch mt {
	case dhcpv6.MessageTypeInformationRequest:
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRenew,
		dhcpv6.MessageTypeRebind, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		return nil, fmt.Errorf("%w: %v: stateless service, no addresses", ErrIgnored6, mt)
	default:
		return nil, fmt.Errorf("%w: message type %v", ErrIgnored6, mt)
	}
	// The wire form first: the options must tile the message exactly.
	raw, err := walkOptions(req[4:])
	if err != nil {
		return nil, err
	}
	// Then the library's decoding, which checks each option's contents.
	msg, err := dhcpv6.MessageFromBytes(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed6, err)
	}
	if n := len(raw[optClientID]); n > 1 {
		return nil, fmt.Errorf("%w: %d client identifiers", ErrMalformed6, n)
	}
	if n := len(raw[optServerID]); n > 1 {
		return nil, fmt.Errorf("%w: %d server identifiers", ErrMalformed6, n)
	}
	for _, id := range [][][]byte{raw[optClientID], raw[optServerID]} {
		if len(id) == 1 && (len(id[0]) < 2 || len(id[0]) > maxDUIDLen) {
			return nil, fmt.Errorf("%w: identifier of %d bytes", ErrMalformed6, len(id[0]))
		}
	}
	if len(raw[optORO]) > 0 {
		for _, o := range raw[optORO] {
			if len(o)%2 != 0 {
				return nil, fmt.Errorf("%w: option request of odd length %d", ErrMalformed6, len(o))
			}
		}
	}
	if s := raw[optServerID]; len(s) == 1 && !bytes.Equal(s[0], h.duid) {
		return nil, fmt.Errorf("%w: Information-Request for server %x", ErrIgnored6, s[0])
	}
	for _, ia := range []uint16{optIANA, optIATA, optIAPD} {
		if len(raw[ia]) > 0 {
			return nil, fmt.Errorf("%w: Information-Request with an IA option (%d)", ErrIgnored6, ia)
		}
	}

	out := make([]byte, 0, 128)
	out = append(out, byte(dhcpv6.MessageTypeReply))
	out = append(out, msg.TransactionID[:]...)
	out = appendOption(out, optServerID, h.duid)
	if c := raw[optClientID]; len(c) == 1 {
		out = appendOption(out, optClientID, c[0])
	}
	sent := map[uint16]bool{}
	for _, o := range raw[optORO] {
		for i := 0; i+1 < len(o); i += 2 {
			code := binary.BigEndian.Uint16(o[i:])
			if v, ok := h.opts[code]; ok && !sent[code] {
				sent[code] = true
				out = appendOption(out, code, v)
			}
		}
	}
	return out, nil
}

// walkOptions splits the option area into its options by code, checking
// that each header and value lies inside it and that nothing trails.
func walkOptions(b []byte) (map[uint16][][]byte, error) {
	out := map[uint16][][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: %d trailing bytes after the options", ErrMalformed6, len(b))
		}
		code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			return nil, fmt.Errorf("%w: option %d of length %d overruns the message", ErrMalformed6, code, n)
		}
		out[code] = append(out[code], b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

func appendOption(b []byte, code uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func (h *Handler6) countIgnored() {
	h.mu.Lock()
	h.stats.Ignored++
	h.mu.Unlock()
}
