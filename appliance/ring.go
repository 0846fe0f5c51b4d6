package appliance

import (
	"bytes"
	"sync"
)

// Ring limits: what init keeps of its own log and the service's output.
const (
	RingLines   = 1000      // lines kept
	RingBytes   = 256 << 10 // bytes kept, at most
	RingLineMax = 4 << 10   // a longer line is cut here
)

// Ring keeps the last lines written to it, for `ntpbox log`: at most
// MaxLines lines and MaxBytes bytes, each line cut at RingLineMax. Every
// Write is taken as whole lines (a missing final newline is added), so
// writers that write a line per call, as slog handlers do, may share it.
// It is safe for concurrent use.
type Ring struct {
	MaxLines, MaxBytes int // default RingLines, RingBytes

	mu      sync.Mutex
	lines   [][]byte // oldest first
	size    int      // bytes in lines
	next    uint64   // sequence number of the next line
	changed chan struct{}
}

// Write adds the lines of p.
func (r *Ring) Write(p []byte) (int, error) {
	n := len(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		r.add(line)
	}
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	return n, nil
}

func (r *Ring) add(line []byte) {
	if len(line) > RingLineMax {
		line = append(line[:RingLineMax:RingLineMax], " [cut]"...)
	}
	l := make([]byte, len(line)+1)
	copy(l, line)
	l[len(line)] = '\n'
	r.lines = append(r.lines, l)
	r.size += len(l)
	r.next++
	maxLines, maxBytes := orInt(r.MaxLines, RingLines), orInt(r.MaxBytes, RingBytes)
	drop := 0
	for len(r.lines)-drop > maxLines || (r.size > maxBytes && len(r.lines)-drop > 1) {
		r.size -= len(r.lines[drop])
		r.lines[drop] = nil
		drop++
	}
	if drop > 0 {
		r.lines = append(r.lines[:0], r.lines[drop:]...)
	}
}

// Bytes returns the lines kept, oldest first.
func (r *Ring) Bytes() []byte {
	b, _, _ := r.since(0)
	return b
}

// since returns the lines from sequence number seq on, the sequence
// number that follows them, and a channel closed by the next Write.
// Lines that went before they were read are skipped.
func (r *Ring) since(seq uint64) (out []byte, next uint64, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.next - uint64(len(r.lines))
	if seq < first {
		seq = first
	}
	for _, l := range r.lines[seq-first:] {
		out = append(out, l...)
	}
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return out, r.next, r.changed
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
