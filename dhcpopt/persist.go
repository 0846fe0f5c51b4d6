package dhcpopt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/ntpbox/ntpbox/internal/atomicfile"
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
	Path    string
	Line    int
	SavedAs string
	Err     error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("lease file %s:%d: %v (kept as %s)", e.Path, e.Line, e.Err, e.SavedAs)
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
	saved, rerr := moveAside(path, data)
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

// moveAside keeps data, the lease file's contents, in a free name beside
// it, then removes the lease file (both copies, on FAT).
func moveAside(path string, data []byte) (string, error) {
	dst := path + ".corrupt"
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = path + ".corrupt." + strconv.Itoa(i)
	}
	if err := atomicfile.Write(dst, data, 0o644); err != nil {
		return dst, err
	}
	return dst, persist.Remove(path)
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
