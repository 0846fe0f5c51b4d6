package dhcpopt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"time"

	"github.com/ntpbox/ntpbox/internal/persist"
)

// The lease file holds one JSON object per line, a [Lease]:
//
//	{"client":"hw:52:54:00:12:34:56","addr":"198.18.0.100","expires":"2026-11-26T04:00:00Z"}
//
// On FAT (the appliance's /perm) it is kept as two checksummed copies
// that survive a power cut (package persist).

// CorruptError reports a lease file that does not parse. The file has been
// moved aside to SavedAs so that nothing is lost and a fresh file can be
// written.
type CorruptError struct {
	Kind    string // "lease file" when empty
	Path    string
	Line    int
	SavedAs string
	Err     error
}

func (e *CorruptError) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = "lease file"
	}
	return fmt.Sprintf("%s %s:%d: %v (kept as %s)", kind, e.Path, e.Line, e.Err, e.SavedAs)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// LoadLeases reads the lease file at path. A missing file is no leases. A
// corrupt file is moved aside to path.corrupt (or path.corrupt.N if that
// exists) and reported as a *CorruptError.
func LoadLeases(path string) ([]Lease, error) {
	data, err := persist.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	leases, line, err := parseLeases(data)
	if err == nil {
		return leases, nil
	}
	saved, rerr := persist.SetAside(path, data)
	if rerr != nil {
		return nil, fmt.Errorf("lease file %s:%d: %v; moving it aside: %w", path, line, err, rerr)
	}
	return nil, &CorruptError{Path: path, Line: line, SavedAs: saved, Err: err}
}

func parseLeases(data []byte) ([]Lease, int, error) {
	var leases []Lease
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l Lease
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, n, err
		}
		if l.Client == "" || !l.Addr.Is4() {
			return nil, n, errors.New("lease needs a client and an IPv4 addr")
		}
		leases = append(leases, l)
	}
	if err := sc.Err(); err != nil {
		return nil, n + 1, err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, n, errors.New("truncated last line")
	}
	return leases, 0, nil
}

// SaveLeases writes leases to path so that a crash or a power cut leaves
// the old file or the new (package persist).
func SaveLeases(path string, leases []Lease) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range leases {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("save leases %s: %w", path, err)
		}
	}
	if err := persist.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save leases: %w", err)
	}
	return nil
}

// The record of other DHCP servers ([SeenServer]) holds one JSON object per
// line:
//
//	{"server":"198.18.0.1","subnet":"198.18.0.0/24","last_seen":"2026-11-26T04:00:00Z","how":"search"}

type seenJSON struct {
	Server   netip.Addr   `json:"server"`
	Subnet   netip.Prefix `json:"subnet"`
	LastSeen time.Time    `json:"last_seen"`
	How      string       `json:"how"`
}

// ParseServers decodes a record of other DHCP servers.
func ParseServers(data []byte) ([]SeenServer, error) {
	seen, _, err := parseServers(data)
	return seen, err
}

// parseServers is ParseServers, with the number of the line at fault.
func parseServers(data []byte) ([]SeenServer, int, error) {
	var out []SeenServer
	n := 0
	for line := range bytes.Lines(data) {
		n++
		if !bytes.HasSuffix(line, []byte("\n")) {
			return nil, n, errors.New("truncated last line")
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var j seenJSON
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, n, err
		}
		if dec.More() {
			return nil, n, errors.New("more than one object on the line")
		}
		s := SeenServer{Server: j.Server, Subnet: j.Subnet, LastSeen: j.LastSeen}
		switch j.How {
		case "search":
			s.How = SeenSearch
		case "passive":
			s.How = SeenPassive
		default:
			return nil, n, fmt.Errorf("how %q: want search or passive", j.How)
		}
		if !s.Server.Is4() || !s.Subnet.Addr().Is4() || s.Subnet != s.Subnet.Masked() {
			return nil, n, errors.New("want an IPv4 server and a masked IPv4 subnet")
		}
		out = append(out, s)
	}
	return out, 0, nil
}

// FormatServers encodes a record of other DHCP servers for ParseServers.
func FormatServers(seen []SeenServer) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, s := range seen {
		enc.Encode(seenJSON{Server: s.Server, Subnet: s.Subnet, LastSeen: s.LastSeen.UTC(), How: s.How.String()})
	}
	return buf.Bytes()
}

// LoadServers reads the record of other DHCP servers at path. A missing
// file is an empty record. A corrupt file is moved aside as LoadLeases
// does and reported as a *CorruptError: the caller starts with an empty
// record.
func LoadServers(path string) ([]SeenServer, error) {
	data, err := persist.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read DHCP server record: %w", err)
	}
	seen, line, err := parseServers(data)
	if err == nil {
		return seen, nil
	}
	saved, rerr := persist.SetAside(path, data)
	if rerr != nil {
		return nil, fmt.Errorf("DHCP server record %s:%d: %v; moving it aside: %w", path, line, err, rerr)
	}
	return nil, &CorruptError{Kind: "DHCP server record", Path: path, Line: line, SavedAs: saved, Err: err}
}

// SaveServers writes the record to path so that a power cut leaves the
// old or the new ([persist.Write]).
func SaveServers(path string, seen []SeenServer) error {
	if err := persist.Write(path, FormatServers(seen), 0o644); err != nil {
		return fmt.Errorf("save DHCP server record: %w", err)
	}
	return nil
}
