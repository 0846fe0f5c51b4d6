package persist

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEncodeFormat(t *testing.T) {
	got := string(Encode(1, 17, []byte("  -11.251233   0.034567\n")))
	want := "# ntpbox copy 1 of 2, generation 17, 24 bytes, sha256 "
	if !strings.HasPrefix(got, want) {
		t.Fatalf("header %q, want it to start %q", got, want)
	}
	line, rest, _ := strings.Cut(got, "\n")
	content, pad, _ := strings.Cut(rest, "\n#")
	if len(line) != len(want)+64 || content != "  -11.251233   0.034567" || len(got) != Slot ||
		strings.Trim(pad, " ") != "\n" || !strings.HasSuffix(pad, "\n") {
		t.Errorf("copy %q", got)
	}
	if s := decode(1, []byte(got)); !s.intact || s.gen != 17 || string(s.data) != content+"\n" {
		t.Errorf("decode: %+v", s)
	}
	// A copy that fills its slots exactly has no padding; one byte short
	// of it, a newline.
	for _, extra := range []int{0, 1} {
		data := bytes.Repeat([]byte("x"), 2*Slot-len(Encode(1, 17, nil))-extra)
		if b := Encode(1, 17, data); len(b) != 2*Slot || extra == 1 && b[len(b)-1] != '\n' {
			t.Errorf("%d bytes short of two slots: %d bytes, ending %q", extra, len(b), b[len(b)-2:])
		} else if s := decode(1, b); !s.intact || !bytes.Equal(s.data, data) {
			t.Errorf("%d bytes short of two slots: %+v", extra, s)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(2, 5, []byte("value 5\n"))
	line, _, _ := bytes.Cut(good, []byte("\n"))
	cases := []struct {
		name string
		n    int
		b    []byte
		why  string
	}{
		{"empty copy 2", 2, nil, "no header"},
		{"empty copy 1", 1, []byte{}, "cut short"},
		{"half a magic", 1, []byte("# ntpbox co"), "cut short"},
		{"header without newline", 2, line, "cut short"},
		{"contents cut", 2, good[:len(good)-1], "padded"},
		{"contents longer", 2, append(slices.Clone(good), '\n'), "padded"},
		{"padding changed", 2, append(slices.Clone(good[:len(good)-1]), 'x'), "padded"},
		{"negative size", 2, Encode(2, 5, nil)[:0], "no header"},
		{"contents changed", 2, bytes.Replace(good, []byte("value 5"), []byte("value 6"), 1), "checksum"},
		{"generation changed", 2, bytes.Replace(good, []byte("generation 5"), []byte("generation 6"), 1), "checksum"},
		{"other copy's file", 1, good, "names copy 2"},
		{"not canonical", 2, bytes.Replace(good, []byte("generation 5"), []byte("generation 05"), 1), "canonical"},
		{"zeros in copy 1", 1, make([]byte, 40), "NUL"},
		{"garbage header", 2, []byte(magic + "x of 2\nvalue"), "header"},
	}
	for _, c := range cases {
		s := decode(c.n, c.b)
		if s.intact || s.why == nil || !strings.Contains(s.why.Error(), c.why) {
			t.Errorf("%s: %+v, want not intact because %q", c.name, s, c.why)
		}
	}
}

func TestNewest(t *testing.T) {
	v := func(n int, gen uint64) []byte { return Encode(n, gen, []byte{byte('a' + gen)}) }
	cases := []struct {
		name          string
		first, second []byte
		want          string // "" for none
	}{
		{"none", nil, nil, ""},
		{"first only", v(1, 1), nil, "b"},
		{"second only", nil, v(2, 1), "b"},
		{"second newer", v(1, 1), v(2, 2), "c"},
		{"first newer", v(1, 3), v(2, 2), "d"},
		{"first torn", v(1, 3)[:20], v(2, 2), "c"},
		{"legacy first", []byte("12.5 0.1\n"), nil, "12.5 0.1\n"},
		{"legacy first, second intact", []byte("12.5 0.1\n"), v(2, 1), "b"},
		{"legacy first, second torn", []byte("12.5 0.1\n"), v(2, 1)[:30], "12.5 0.1\n"},
		{"both torn", v(1, 1)[:30], v(2, 2)[:30], ""},
	}
	for _, c := range cases {
		got, ok := Newest(c.first, c.second)
		if ok != (c.want != "") || string(got) != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, ok, c.want)
		}
	}
}

// On a file system that is not FAT, the file stays at its path in its
// own format (a host's drift file is chrony's), with no second copy.
func TestWriteReadNotFAT(t *testing.T) {
	dir := t.TempDir()
	if fat, err := isFAT(dir); err != nil || fat {
		t.Skipf("%s: FAT %v, %v", dir, fat, err)
	}
	p := filepath.Join(dir, "drift")
	if _, err := Read(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, s := range []string{"1.0 0.1\n", "2.0 0.2\n"} {
		if err := Write(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := Read(p); err != nil || string(b) != s {
			t.Fatalf("read %q %v, want %q", b, err, s)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Errorf("file %q, want %q", b, s)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside it: %v", entries)
	}
	if err := Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("still there after Remove: %v", err)
	}
}

// fatOS is the real file system, said to be FAT: the two copies written
// through real files.
type fatOS struct{ osFS }

func (fatOS) IsFAT(string) (bool, error) { return true, nil }

func TestWriteReadTwoCopies(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ntpbox.drift")
	fsys := fatOS{}
	if _, err := readCopies(fsys, p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	// Each write goes to the other copy, a longer and a shorter one
	// alike; the first to the second copy.
	want := []struct {
		data   string
		target string
	}{
		{"first\n", p + ".2"},
		{"second, longer than the first\n", p},
		{"third\n", p + ".2"},
		{"fourth\n", p},
	}
	for i, w := range want {
		if err := writeCopy(fsys, p, []byte(w.data), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := readCopies(fsys, p)
		if err != nil || string(b) != w.data {
			t.Fatalf("write %d: read %q %v", i, b, err)
		}
		f, _ := os.ReadFile(w.target)
		if s := decode(map[string]int{p: 1, p + ".2": 2}[w.target], f); !s.intact || s.gen != uint64(i+1) || string(s.data) != w.data {
			t.Errorf("write %d: %s holds %q (%+v)", i, w.target, f, s)
		}
	}
	if err := Remove(p); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left after Remove: %v", entries)
	}
}

// A drift file from before the two copies is read, and kept until a
// newer copy is intact beside it.
func TestLegacyFileUpgrade(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ntpbox.drift")
	os.WriteFile(p, []byte("  3.5 0.1\n"), 0o644)
	fsys := fatOS{}
	if b, err := readCopies(fsys, p); err != nil || string(b) != "  3.5 0.1\n" {
		t.Fatalf("legacy: %q %v", b, err)
	}
	writeCopy(fsys, p, []byte("  4.5 0.1\n"), 0o644)
	if b, _ := os.ReadFile(p); string(b) != "  3.5 0.1\n" {
		t.Errorf("the legacy file was overwritten by the first write: %q", b)
	}
	writeCopy(fsys, p, []byte("  5.5 0.1\n"), 0o644)
	if b, err := readCopies(fsys, p); err != nil || string(b) != "  5.5 0.1\n" {
		t.Errorf("after two writes: %q %v", b, err)
	}
}

func TestReadNamesTornCopies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	os.WriteFile(p+".2", Encode(2, 1, []byte("x"))[:20], 0o644)
	_, err := readCopies(fatOS{}, p)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "state.2: header cut short") {
		t.Errorf("err %v, want not-exist naming the torn copy", err)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loader"), 0o755)
	keep := []string{"ntpbox.drift", "ntpbox.drift.2", ".hidden", "a.tmp1", ".x.tmp", "loader/random-seed"}
	stale := []string{".ntpbox.drift.tmp123456", "loader/.random-seed.tmp42"}
	for _, n := range append(slices.Clone(keep), stale...) {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	removed, err := RemoveStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range stale {
		want = append(want, filepath.Join(dir, n))
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := RemoveStale(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing directory is no error")
	}
}

// FuzzNewest: no input makes the decoder panic, and what it returns as
// intact is what was encoded.
func FuzzNewest(f *testing.F) {
	f.Add(Encode(1, 3, []byte("a\n")), Encode(2, 4, []byte("b\n")))
	f.Add([]byte("12.5 0.1\n"), Encode(2, 1, []byte("x"))[:30])
	f.Add([]byte(magic+"1 of 2, generation 18446744073709551615, 0 bytes, sha256 \n"), []byte(nil))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		got, ok := Newest(a, b)
		if !ok {
			return
		}
		if !bytes.HasPrefix(a, []byte(magic)) && bytes.Equal(got, a) {
			return // legacy copy 1
		}
		if !bytes.Contains(a, got) && !bytes.Contains(b, got) {
			t.Fatalf("returned %q, which neither copy holds", got)
		}
	})
}
