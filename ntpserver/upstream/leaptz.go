package upstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// This file is chrony's `leapsectz`: the leap seconds of a zone of the
// system's time zone database whose files list them (right/UTC), used
// when the sources announce none.

// defaultZoneInfoDir is where `leapsectz` zones are read from.
const defaultZoneInfoDir = "/usr/share/zoneinfo"

// leapTable is a zone's leap seconds, oldest first.
type leapTable []leapEntry

// leapEntry is one leap second: it ends the UTC day before end (Unix
// seconds of that midnight), inserted (+1) or deleted (-1).
type leapEntry struct {
	end   int64
	delta int
}

// loadLeapTZ reads the leap second records of zone name (a TZif file)
// under dir (defaultZoneInfoDir if empty).
func loadLeapTZ(dir, name string) (leapTable, error) {
	if dir == "" {
		dir = defaultZoneInfoDir
	}
	if name == "" || filepath.IsAbs(name) || strings.Contains(name, "..") {
		return nil, fmt.Errorf("leapsectz %q: expected a zone name such as right/UTC", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("leapsectz %s: %w", name, err)
	}
	t, err := parseTZifLeaps(b)
	if err != nil {
		return nil, fmt.Errorf("leapsectz %s: %w", name, err)
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("leapsectz %s: the zone lists no leap seconds (use a right/ zone)", name)
	}
	return t, nil
}

var errTZif = errors.New("not a TZif file, or a truncated one")

// parseTZifLeaps returns the leap second records of a TZif file
// (tzfile(5)), from its 64-bit block when it has one.
func parseTZifLeaps(b []byte) (leapTable, error) {
	type counts struct{ isut, isstd, leap, time, typ, char int }
	header := func(b []byte) (counts, bool) {
		if len(b) < 44 || string(b[:4]) != "TZif" {
			return counts{}, false
		}
		n := func(i int) int { return int(binary.BigEndian.Uint32(b[20+4*i:])) }
		return counts{n(0), n(1), n(2), n(3), n(4), n(5)}, true
	}
	c, ok := header(b)
	if !ok {
		return nil, errTZif
	}
	size := func(c counts, ts int) int {
		return c.time*ts + c.time + c.typ*6 + c.char + c.leap*(ts+4) + c.isstd + c.isut
	}
	ts := 4
	data := b[44:]
	if b[4] >= '2' { // skip the 32-bit block to the 64-bit one
		skip := size(c, 4)
		if len(data) < skip {
			return nil, errTZif
		}
		if c, ok = header(data[skip:]); !ok {
			return nil, errTZif
		}
		data, ts = data[skip+44:], 8
	}
	if len(data) < size(c, ts) {
		return nil, errTZif
	}
	leaps := data[c.time*ts+c.time+c.typ*6+c.char:]
	var t leapTable
	prev := int64(0)
	for i := range c.leap {
		r := leaps[i*(ts+4):]
		var at int64
		if ts == 8 {
			at = int64(binary.BigEndian.Uint64(r))
		} else {
			at = int64(int32(binary.BigEndian.Uint32(r)))
		}
		corr := int64(int32(binary.BigEndian.Uint32(r[ts:])))
		d := corr - prev
		if d != 1 && d != -1 {
			return nil, fmt.Errorf("leap record %d: correction %d after %d", i, corr, prev)
		}
		t = append(t, leapEntry{end: at - prev, delta: int(d)})
		prev = corr
	}
	return t, nil
}

// leapAt returns the leap second at the end of the UTC day of now, if
// the table has one.
func (t leapTable) leapAt(now time.Time) wire.Leap {
	u := now.UTC()
	end := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC).Unix()
	for _, l := range t {
		if l.end == end {
			if l.delta > 0 {
				return wire.LeapInsert
			}
			return wire.LeapDelete
		}
	}
	return wire.LeapNone
}
