package appliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ntpbox/ntpbox/internal/persist"
)

// fakeEntropy is a kernel pool: ready once 256 bits are credited (or
// when the test says), with UEFI variables.
type fakeEntropy struct {
	mu       sync.Mutex
	calls    []string
	credited int
	ready    bool
	readyCh  chan struct{} // closed when the pool becomes ready
	efi      map[string][]byte
	delErr   error
	onCredit func() // called when bits > 0 are credited
	next     byte   // Random's bytes: next, next+1, ...
}

func newFakeEntropy() *fakeEntropy { return &fakeEntropy{readyCh: make(chan struct{})} }

func (e *fakeEntropy) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *fakeEntropy) setReady() {
	if !e.ready {
		e.ready = true
		close(e.readyCh)
	}
}

func (e *fakeEntropy) AddEntropy(b []byte, bits int) error {
	if bits > 0 && e.onCredit != nil {
		e.onCredit()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf("add %x %d", b, bits))
	e.credited += bits
	if e.credited >= 256 {
		e.setReady()
	}
	return nil
}

func (e *fakeEntropy) Random(b []byte) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range b {
		b[i] = e.next
		e.next++
	}
	e.calls = append(e.calls, fmt.Sprintf("random ready=%v", e.ready))
	return e.ready, nil
}

func (e *fakeEntropy) WaitReady() error {
	<-e.readyCh
	return nil
}

func (e *fakeEntropy) Uptime() time.Duration { return 3200 * time.Millisecond }

func (e *fakeEntropy) EFIVariable(name string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.efi == nil {
		return nil, ErrNoEFI
	}
	b, ok := e.efi[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (e *fakeEntropy) DeleteEFIVariable(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, "delete "+name)
	if e.delErr != nil {
		return e.delErr
	}
	delete(e.efi, name)
	return nil
}

func seedBytes(first byte) []byte {
	b := make([]byte, SeedSize)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

func readSeed(t *testing.T, path string) ([]byte, bool) {
	t.Helper()
	b, err := persist.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	seed, credit, err := ParseSeed(b)
	if err != nil {
		t.Fatal(err)
	}
	return seed, credit
}

func newSeeds(t *testing.T, e *fakeEntropy) (*Seeds, *syncBuffer) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "loader"), 0o755)
	log := &syncBuffer{}
	return &Seeds{Sys: e, Log: newSlog(log), File: filepath.Join(dir, "random-seed"), LoaderFile: filepath.Join(dir, "loader", "random-seed")}, log
}

func TestSeedFormat(t *testing.T) {
	seed := seedBytes(0xa0)
	b := EncodeSeed(seed, true)
	want := "# ntpbox random seed: mixed into the kernel's random pool at boot, then replaced\ncredit yes\nseed a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	got, credit, err := ParseSeed(b)
	if err != nil || !credit || !bytes.Equal(got, seed) {
		t.Errorf("parse: %x %v %v", got, credit, err)
	}
	if _, credit, _ := ParseSeed(EncodeSeed(seed, false)); credit {
		t.Errorf("credit no parsed as yes")
	}
	for _, bad := range []string{"", "credit yes\n", "seed 00\n", "credit maybe\nseed 00\n", "credit yes\nseed zz\n",
		"credit yes\nseed \n", "credit yes\ncredit no\nseed 00\n", "credit yes\nseed 00\nseed 01\n", "credit yes\nseed 00\nextra\n",
		"credit yes\nseed " + strings.Repeat("00", maxSeed+1) + "\n"} {
		if _, _, err := ParseSeed([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseSeed(f *testing.F) {
	f.Add(EncodeSeed(seedBytes(1), true))
	f.Add([]byte("credit no\nseed 00ff\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		seed, credit, err := ParseSeed(b)
		if err != nil {
			return
		}
		again, credit2, err := ParseSeed(EncodeSeed(seed, credit))
		if err != nil || credit2 != credit || !bytes.Equal(again, seed) {
			t.Fatalf("%q: round trip %x %v %v", b, again, credit2, err)
		}
	})
}

// A seed saved from a ready pool is mixed in, replaced, then credited
// (the replacement on disk before the credit), and the log says so.
func TestCreditSeedFile(t *testing.T) {
	e := newFakeEntropy()
	s, log := newSeeds(t, e)
	persist.Write(s.File, EncodeSeed(seedBytes(0x10), true), 0o600)
	e.onCredit = func() {
		if seed, _ := readSeed(t, s.File); bytes.Equal(seed, seedBytes(0x10)) {
			t.Errorf("credited before the seed file was replaced")
		}
	}
	s.Credit()
	want := []string{fmt.Sprintf("add %x 0", seedBytes(0x10)), "random ready=false", fmt.Sprintf("add %x 256", seedBytes(0x10))}
	if got := e.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if !strings.Contains(log.String(), "random seed credited: 256 bits from "+s.File) {
		t.Errorf("log:\n%s", log)
	}
	// The replacement came from a pool that was not ready: never
	// credited.
	if seed, credit := readSeed(t, s.File); credit || !bytes.Equal(seed, seedBytes(0)) {
		t.Errorf("replacement %x credit %v", seed, credit)
	}
}

func TestSeedNotCredited(t *testing.T) {
	cases := []struct {
		name    string
		file    []byte // nil: none
		write   error
		wantLog string
	}{
		{"missing", nil, nil, "random seed not credited: no "},
		{"saved before the pool was ready", EncodeSeed(seedBytes(0x10), false), nil, "random seed mixed in, not credited: "},
		{"garbage", []byte("credit yes\nseed nothex\n"), nil, "random seed not credited: "},
		{"cannot replace it", EncodeSeed(seedBytes(0x10), true), errors.New("disk full"), "could not be replaced, and a seed is never credited twice: save random seed: disk full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFakeEntropy()
			s, log := newSeeds(t, e)
			if c.file != nil {
				persist.Write(s.File, c.file, 0o600)
			}
			if c.write != nil {
				s.write = func(string, []byte) error { return c.write }
			}
			s.Credit()
			for _, call := range e.Calls() {
				if strings.HasPrefix(call, "add ") && !strings.HasSuffix(call, " 0") {
					t.Errorf("credited: %s", call)
				}
			}
			if !strings.Contains(log.String(), c.wantLog) {
				t.Errorf("log lacks %q:\n%s", c.wantLog, log)
			}
		})
	}
}

// systemd-boot's LoaderRandomSeed is deleted, then credited; a firmware
// that refuses to delete it (EDK2 keeps volatile variables) is noted.
func TestCreditEFISeed(t *testing.T) {
	for _, delErr := range []error{nil, errors.New("invalid argument")} {
		e := newFakeEntropy()
		e.efi = map[string][]byte{LoaderRandomSeedVar: seedBytes(0x40)}
		e.delErr = delErr
		log := &syncBuffer{}
		s := &Seeds{Sys: e, Log: newSlog(log)}
		s.Credit()
		wantLog := "random seed credited: 256 bits from LoaderRandomSeed (systemd-boot)\""
		if delErr != nil {
			wantLog = "random seed credited: 256 bits from LoaderRandomSeed (systemd-boot) (the firmware keeps the variable until the next reset: invalid argument)"
		}
		want := []string{"delete " + LoaderRandomSeedVar, fmt.Sprintf("add %x 256", seedBytes(0x40))}
		if got := e.Calls(); !slices.Equal(got, want) {
			t.Errorf("delete error %v: calls %q, want %q", delErr, got, want)
		}
		if !strings.Contains(log.String(), wantLog) {
			t.Errorf("log lacks %q:\n%s", wantLog, log)
		}
	}
	// UEFI, but no variable: one line; not UEFI: nothing.
	e := newFakeEntropy()
	e.efi = map[string][]byte{}
	log := &syncBuffer{}
	(&Seeds{Sys: e, Log: newSlog(log)}).creditEFI()
	if !strings.Contains(log.String(), "no LoaderRandomSeed from the boot loader") {
		t.Errorf("log:\n%s", log)
	}
	log = &syncBuffer{}
	(&Seeds{Sys: newFakeEntropy(), Log: newSlog(log)}).creditEFI()
	if log.String() != "" {
		t.Errorf("log without UEFI:\n%s", log)
	}
}

// Once the pool is ready, a creditable seed is saved and systemd-boot's
// seed file written (if missing); every Refresh a fresh one; at Stop a
// last one.
func TestSeedsKeepOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newFakeEntropy()
		s, log := newSeeds(t, e)
		s.Refresh = 15 * time.Minute
		var saves int
		var mu sync.Mutex
		s.write = func(p string, b []byte) error {
			mu.Lock()
			saves++
			mu.Unlock()
			return persist.Write(p, b, 0o600)
		}
		s.Start()
		synctest.Wait()
		if _, err := os.Stat(s.File); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a seed saved before the pool is ready: %v", err)
		}
		e.mu.Lock()
		e.setReady()
		e.mu.Unlock()
		synctest.Wait()
		if _, credit := readSeed(t, s.File); !credit {
			t.Errorf("seed saved from a ready pool is not creditable")
		}
		if b, err := os.ReadFile(s.LoaderFile); err != nil || len(b) != SeedSize {
			t.Errorf("systemd-boot's seed: %x %v", b, err)
		}
		if !strings.Contains(log.String(), "random pool ready after 3.2 s") {
			t.Errorf("log:\n%s", log)
		}
		time.Sleep(31 * time.Minute)
		synctest.Wait()
		mu.Lock()
		if saves != 3 {
			t.Errorf("%d saves after 31 minutes, want 3", saves)
		}
		mu.Unlock()
		s.Stop()
		if saves != 4 || !strings.Contains(log.String(), "random seed saved for the next boot") {
			t.Errorf("%d saves after Stop; log:\n%s", saves, log)
		}
	})
}

// systemd-boot's seed file is never overwritten (it rewrites it itself),
// and not created where there is no loader directory.
func TestLoaderSeedLeftAlone(t *testing.T) {
	e := newFakeEntropy()
	e.setReady()
	s, _ := newSeeds(t, e)
	os.WriteFile(s.LoaderFile, []byte("systemd-boot's own"), 0o600)
	s.writeLoaderSeed()
	if b, _ := os.ReadFile(s.LoaderFile); string(b) != "systemd-boot's own" {
		t.Errorf("overwritten: %q", b)
	}
	s.LoaderFile = filepath.Join(t.TempDir(), "loader", "random-seed")
	s.writeLoaderSeed()
	if _, err := os.Stat(filepath.Dir(s.LoaderFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loader directory created: %v", err)
	}
}

// Init credits the seeds at boot and saves one at shutdown; with no
// partition only the EFI variable is there.
func TestInitCreditsSeeds(t *testing.T) {
	sys := newFakeSystem("")
	e := newFakeEntropy()
	e.efi = map[string][]byte{LoaderRandomSeedVar: seedBytes(0x40)}
	log := &syncBuffer{}
	in := &Init{Sys: sys, Net: newFakeNet(sys), Start: newFakeStarter(), Log: newSlog(log), Console: &syncBuffer{}, Entropy: e}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "random pool ready") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for _, want := range []string{"random seed credited: 256 bits from LoaderRandomSeed", "random seed not credited: no persistent partition", "random pool ready after"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
