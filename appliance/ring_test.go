package appliance

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRing(t *testing.T) {
	for _, tc := range []struct {
		name              string
		maxLines, maxByte int
		writes            []string
		want              string
	}{
		{"empty", 0, 0, nil, ""},
		{"lines", 3, 100, []string{"a\nb\n", "c\n"}, "a\nb\nc\n"},
		{"missing newline added", 3, 100, []string{"a", "b\n"}, "a\nb\n"},
		{"wraps by lines", 2, 100, []string{"a\n", "b\n", "c\nd\n"}, "c\nd\n"},
		{"wraps by bytes", 100, 6, []string{"aa\n", "bb\n", "cc\n"}, "bb\ncc\n"},
		{"one line over the bytes is kept", 100, 2, []string{"aaaa\n", "bbbb\n"}, "bbbb\n"},
		{"empty lines", 3, 100, []string{"\n\n"}, "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Ring{MaxLines: tc.maxLines, MaxBytes: tc.maxByte}
			for _, w := range tc.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := string(r.Bytes()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A long line is cut at RingLineMax; a million lines keep RingLines.
func TestRingLongLinesAndDefaults(t *testing.T) {
	r := &Ring{}
	r.Write([]byte(strings.Repeat("x", 3*RingLineMax) + "\nshort\n"))
	lines := strings.Split(string(r.Bytes()), "\n")
	if len(lines[0]) != RingLineMax+len(" [cut]") || !strings.HasSuffix(lines[0], " [cut]") || lines[1] != "short" {
		t.Errorf("long line kept as %d bytes, next %q", len(lines[0]), lines[1])
	}
	for i := range 1_000_000 / 100 {
		var b strings.Builder
		for j := range 100 {
			fmt.Fprintf(&b, "line %d\n", i*100+j)
		}
		r.Write([]byte(b.String()))
	}
	got := strings.Split(strings.TrimSuffix(string(r.Bytes()), "\n"), "\n")
	if len(got) != RingLines || got[0] != fmt.Sprintf("line %d", 1_000_000-RingLines) || got[len(got)-1] != "line 999999" {
		t.Errorf("%d lines, %q ... %q", len(got), got[0], got[len(got)-1])
	}
	big := &Ring{}
	for range 1000 {
		big.Write([]byte(strings.Repeat("y", 1000) + "\n"))
	}
	if n := len(big.Bytes()); n > RingBytes || n < RingBytes-1001 {
		t.Errorf("%d bytes kept, want at most %d", n, RingBytes)
	}
}

// Writers writing a line per call never interleave within a line.
func TestRingConcurrent(t *testing.T) {
	r := &Ring{MaxLines: 100000, MaxBytes: 1 << 30}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				fmt.Fprintf(r, "writer %d line %d\n", w, i)
			}
		}()
	}
	done := make(chan struct{})
	go func() { // a reader following along
		var seq uint64
		for {
			select {
			case <-done:
				return
			default:
			}
			_, seq, _ = r.since(seq)
		}
	}()
	wg.Wait()
	close(done)
	next := map[int]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(r.Bytes()), "\n"), "\n") {
		var w, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &i); err != nil || next[w] != i {
			t.Fatalf("line %q: %v, want writer %d line %d", l, err, w, next[w])
		}
		next[w]++
	}
	for w := range 8 {
		if next[w] != 1000 {
			t.Errorf("writer %d: %d lines", w, next[w])
		}
	}
}
