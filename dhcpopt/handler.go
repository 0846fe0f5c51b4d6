package dhcpopt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Errors wrapped by Handle when it sends no reply.
var (
	// ErrMalformed: the message breaks the protocol (not a request, no
	// message type, no client identity, missing a required field).
	ErrMalformed = errors.New("malformed DHCP message")
	// ErrIgnored: a well-formed message this handler does not answer
	// (a message type it does not serve in its mode, a request for another
	// server, an INFORM without ciaddr, a client it has no record of, a
	// server probe from ProbeHWAddr).
	ErrIgnored = errors.New("DHCP message ignored")
	// ErrExhausted: no free address to offer.
	ErrExhausted = errors.New("no free address in range")
)

// maxProbes bounds how many addresses one DISCOVER may probe.
const maxProbes = 3

// probeFresh is how long an address the prober found free is offered
// again without a new probe.
const probeFresh = 5 * time.Minute

// A Prober checks whether an address is already in use on the network
// (an ARP or ICMP echo probe) before the handler offers it. It may block.
type Prober interface {
	InUse(addr netip.Addr) bool
}

// Stats counts what the handler did.
type Stats struct {
	Malformed, Ignored, Exhausted uint64
	Offers, Acks, Naks, Informs   uint64
	Releases, Declines, Conflicts uint64
}

// Handler decides DHCP replies. It is safe for concurrent use; its only
// state is the lease table, which callers persist with [Handler.Leases].
// Handle calls run one at a time, except while the Prober checks an
// address: other messages are handled meanwhile.
type Handler struct {
	mu     sync.Mutex
	cfg    Config
	prober Prober
	leases leaseTable
	stats  Stats
	gen    uint64
	// probing holds the clients whose DISCOVER waits for the prober.
	probing map[string]bool
	// probedFree is when the prober last found each address free (at
	// most one entry per address of the range).
	probedFree map[netip.Addr]time.Time
	// found holds the addresses the prober found in use since the last
	// TakeConflicts, at most maxFound, for the log.
	found []netip.Addr

	// Auto mode: what the handler does now, each client's DISCOVER
	// attempt, and the other servers clients named since the last
	// TakeSightings.
	auto      AutoDecision
	attempts  map[string]attempt
	sightings []Sighting
	sighted   chan struct{}
}

// maxFound bounds the conflicts kept for TakeConflicts.
const maxFound = 16

// TakeConflicts returns the addresses the prober found in use since the
// last call (at most 16; Stats.Conflicts counts them all) and forgets them.
func (h *Handler) TakeConflicts() []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.found
	h.found = nil
	return f
}

// NewHandler validates cfg and returns a handler starting with the given
// leases (from [LoadLeases]). prober may be nil: addresses are then offered
// without a check.
func NewHandler(cfg Config, prober Prober, leases []Lease) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, prober: prober, leases: newLeaseTable(), probing: map[string]bool{}, probedFree: map[netip.Addr]time.Time{},
		attempts: map[string]attempt{}, sighted: make(chan struct{}, 1),
		auto: AutoDecision{Mode: AutoInform, Reason: "starting"}}
	for _, l := range leases {
		if l.Client != "" && cfg.InRange(l.Addr) && !l.Offered {
			h.leases.put(l)
		}
	}
	return h, nil
}

// Leases returns the bound leases, active and expired, sorted by address.
func (h *Handler) Leases() []Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leases.snapshot()
}

// Generation changes whenever the bound leases change: a caller persists
// the leases when it differs from the value it saw last.
func (h *Handler) Generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// CountMalformed counts a packet that did not even decode.
func (h *Handler) CountMalformed() {
	h.mu.Lock()
	h.stats.Malformed++
	h.mu.Unlock()
}

// Handle returns the reply to req at time now. A nil reply with a nil
// error means the protocol asks for none (RELEASE, DECLINE); a nil reply
// with an error wrapping ErrMalformed, ErrIgnored or ErrExhausted says why
// the message was dropped. Handle never panics on a decoded message.
func (h *Handler) Handle(req *dhcpv4.DHCPv4, now time.Time) (*dhcpv4.DHCPv4, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key, err := check(req)
	if err != nil {
		h.stats.Malformed++
		return nil, err
	}
	if probe := h.cfg.probeHW(); isProbe(req, probe) {
		// This box's own ProbeServers looks for other DHCP servers:
		// stay silent. Another box's probe is answered like any
		// DISCOVER, so that box sees this one lease.
		h.stats.Ignored++
		return nil, fmt.Errorf("%w: this box's own server probe from %v", ErrIgnored, probe)
	}
	mt := req.MessageType()
	h.observe(req, mt, key, now)
	auto := h.cfg.Mode == ModeAuto
	var resp *dhcpv4.DHCPv4
	switch {
	case h.offLink(req, mt) != nil:
		err = h.offLink(req, mt)
	case auto && h.auto.Mode == AutoOff:
		err = fmt.Errorf("%w: %v while dhcp auto is off", ErrIgnored, mt)
	case mt == dhcpv4.MessageTypeInform:
		resp, err = h.inform(req)
	case h.cfg.Mode == ModeInform:
		err = fmt.Errorf("%w: %v in inform mode", ErrIgnored, mt)
	case auto && h.auto.Mode != AutoLease:
		resp, err = h.notLeasing(req, mt, key, now)
	case auto && mt == dhcpv4.MessageTypeDiscover && !isBoxSearch(req) && !h.retried(req, key, now):
		err = fmt.Errorf("%w: first DISCOVER of the client's attempt: another server answers first", ErrIgnored)
	case mt == dhcpv4.MessageTypeDiscover:
		resp, err = h.discover(req, key, now)
	case mt == dhcpv4.MessageTypeRequest:
		resp, err = h.request(req, key, now)
	case mt == dhcpv4.MessageTypeRelease:
		err = h.release(req, key, now)
	case mt == dhcpv4.MessageTypeDecline:
		err = h.decline(req, key, now)
	default:
		err = fmt.Errorf("%w: message type %v", ErrIgnored, mt)
	}
	h.count(resp, err)
	return resp, err
}

func (h *Handler) count(resp *dhcpv4.DHCPv4, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrMalformed):
		h.stats.Malformed++
	case errors.Is(err, ErrExhausted):
		h.stats.Exhausted++
	default:
		h.stats.Ignored++
	}
}

// offLink rejects a message the box would answer off its LAN: one relayed
// from a giaddr outside the subnet (the reply goes to giaddr), or, not
// relayed, an INFORM whose ciaddr is outside the subnet (the ACK goes to
// ciaddr). Either is a spoofed source at best, and answering would make
// the box send datagrams to any address someone names. A loopback ciaddr
// is the box itself. Without a subnet (inform mode with none configured)
// everything is on the LAN.
func (h *Handler) offLink(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) error {
	sub := h.cfg.Subnet
	if !sub.IsValid() {
		return nil
	}
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() {
		if !sub.Contains(gi) {
			return fmt.Errorf("%w: relayed from %v, outside %v", ErrIgnored, gi, sub)
		}
		return nil
	}
	if ci := addr4(req.ClientIPAddr); mt == dhcpv4.MessageTypeInform && ci.IsValid() && !sub.Contains(ci) && !ci.IsLoopback() {
		return fmt.Errorf("%w: DHCPINFORM from %v, outside %v", ErrIgnored, ci, sub)
	}
	return nil
}

// Length caps on what the handler stores from a request (issue 11: a
// flood of clients must cost bounded memory and a bounded lease file).
const (
	// MaxClientID is the longest client identifier (option 61) taken;
	// a longer one is malformed. Real ones are a type byte and a MAC
	// (7 bytes) or an RFC 4361 IAID and DUID (at most 1+4+130).
	MaxClientID = 136
	// MaxHostname is the longest host name (option 12) stored: one DNS
	// label.
	MaxHostname = 63
)

// hostname is the request's host name (option 12) as stored with its
// lease: letters, digits, '-' and '_' only (anything else becomes '-'),
// at most MaxHostname bytes.
func hostname(req *dhcpv4.DHCPv4) string {
	h := req.Options.Get(dhcpv4.OptionHostName)
	if len(h) > MaxHostname {
		h = h[:MaxHostname]
	}
	b := make([]byte, len(h))
	for i, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b[i] = c
		default:
			b[i] = '-'
		}
	}
	return string(b)
}

// check validates the fields every request needs and returns the client key.
func check(req *dhcpv4.DHCPv4) (string, error) {
	if req == nil {
		return "", fmt.Errorf("%w: nil message", ErrMalformed)
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return "", fmt.Errorf("%w: opcode %v", ErrMalformed, req.OpCode)
	}
	if req.MessageType() == dhcpv4.MessageTypeNone {
		return "", fmt.Errorf("%w: no message type", ErrMalformed)
	}
	if id := req.Options.Get(dhcpv4.OptionClientIdentifier); len(id) > 0 {
		if len(id) > MaxClientID {
			return "", fmt.Errorf("%w: client identifier of %d bytes (at most %d)", ErrMalformed, len(id), MaxClientID)
		}
		return "id:" + hex.EncodeToString(id), nil
	}
	if len(req.ClientHWAddr) == 0 {
		return "", fmt.Errorf("%w: no client identifier or chaddr", ErrMalformed)
	}
	return "hw:" + req.ClientHWAddr.String(), nil
}

// addr4 converts a packet address; the zero Addr stands for 0.0.0.0 and
// anything that is not 4 bytes.
func addr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func ip(a netip.Addr) net.IP {
	if !a.IsValid() {
		return net.IPv4zero.To4()
	}
	b := a.As4()
	return net.IP(b[:])
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = ip(a)
	}
	return out
}
