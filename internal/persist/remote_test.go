package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// remoteFor connects this package's Read, Write, Remove and SetAside to
// a Serve that allows only the paths in allowed, over a real Unix socket
// pair as init and a service use; it returns the refusals Serve reported.
func remoteFor(t *testing.T, allowed ...string) *[]string {
	t.Helper()
	fds, err := unixSocketpair()
	if err != nil {
		t.Fatal(err)
	}
	initEnd, svcEnd := fds[0], fds[1]
	var mu sync.Mutex
	refusals := &[]string{}
	done := make(chan error, 1)
	go func() {
		done <- Serve(initEnd, func(p string) error {
			for _, a := range allowed {
				if p == a {
					return nil
				}
			}
			return errors.New("not this service's state file")
		}, func(op byte, path string, err error) {
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				return
			}
			mu.Lock()
			*refusals = append(*refusals, fmt.Sprintf("%c %s: %v", op, path, err))
			mu.Unlock()
		})
	}()
	UseRemote(svcEnd)
	t.Cleanup(func() {
		remote.Store(nil)
		svcEnd.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		initEnd.Close()
	})
	return refusals
}

func unixSocketpair() ([2]*os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return [2]*os.File{}, err
	}
	return [2]*os.File{os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "service")}, nil
}

func TestRemoteReadWriteRemove(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "dhcp.leases")
	refusals := remoteFor(t, state)

	if _, err := Read(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file through init: %v, want fs.ErrNotExist", err)
	}
	want := bytes.Repeat([]byte("{\"client\":\"hw:52:54:00:12:34:56\"}\n"), 1000)
	if err := Write(state, want, 0o644); err != nil {
		t.Fatal(err)
	}
	// Init wrote it: the file is there, as Write stores it.
	c := remote.Swap(nil)
	got, err := Read(state)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the file init wrote: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	remote.Store(c)
	if got, err = Read(state); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Read through init: %d bytes, %v", len(got), err)
	}
	if err := Remove(state); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Remove through init: %v", err)
	}
	if len(*refusals) != 0 {
		t.Fatalf("refusals: %q", *refusals)
	}
}

func TestRemoteRefusesOtherPaths(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "ntpbox.drift")
	refusals := remoteFor(t, state)
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("the kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		kernel,
		filepath.Join(dir, "ntpbox.conf"),
		dir + "/../" + filepath.Base(dir) + "/ntpbox.drift", // not clean
		"ntpbox.drift", // not absolute
		state + ".2",   // the second copy is init's business
	} {
		if err := Write(p, []byte("0 0\n"), 0o644); err == nil {
			t.Errorf("Write %s through init: allowed", p)
		}
		if err := Remove(p); err == nil {
			t.Errorf("Remove %s through init: allowed", p)
		}
		if _, err := Read(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read %s through init: %v, want a refusal", p, err)
		}
	}
	if b, _ := os.ReadFile(kernel); string(b) != "the kernel" {
		t.Fatalf("the kernel: %q", b)
	}
	if len(*refusals) != 15 {
		t.Fatalf("%d refusals reported, want 15: %q", len(*refusals), *refusals)
	}
	if !strings.Contains((*refusals)[0], "not this service's state file") {
		t.Fatalf("refusal: %q", (*refusals)[0])
	}
	// Its own file still works after refusals.
	if err := Write(state, []byte("  1.5 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteSetAside(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "dhcp.leases")
	remoteFor(t, state)
	if err := os.WriteFile(state, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{state + ".corrupt", state + ".corrupt.1"} {
		if err := os.WriteFile(state, []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		name, err := SetAside(state, []byte(fmt.Sprint("garbage ", i)))
		if err != nil || name != want {
			t.Fatalf("SetAside: %q, %v; want %q", name, err, want)
		}
		if b, _ := os.ReadFile(name); string(b) != fmt.Sprint("garbage ", i) {
			t.Fatalf("%s: %q", name, b)
		}
		if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s after SetAside: %v", state, err)
		}
	}
}

// A request that declares more than the limits ends the connection
// before Serve reads (or allocates) it; so does data on a read.
func TestServeRejectsOversizedRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"data", hdr(opWrite, 10, MaxRemoteData+1)},
		{"path", hdr(opWrite, MaxRemotePath+1, 1)},
		{"read with data", hdr(opRead, 10, 5)},
	} {
		var out bytes.Buffer
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(tc.req), &out}
		err := Serve(rw, func(string) error { return nil }, nil)
		if err == nil {
			t.Errorf("%s: Serve returned nil", tc.name)
		}
		if out.Len() != 0 {
			t.Errorf("%s: Serve answered %q", tc.name, out.Bytes())
		}
	}
}

func hdr(op byte, pn, dn int) []byte {
	b := make([]byte, 7)
	b[0] = op
	binary.BigEndian.PutUint16(b[1:], uint16(min(pn, 0xffff)))
	binary.BigEndian.PutUint32(b[3:], uint32(dn))
	if pn > 0xffff {
		panic("pn")
	}
	return b
}

// The client refuses to send more than Serve takes, with an error that
// says so, instead of having the connection cut.
func TestRemoteClientLimit(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "dhcp.leases")
	remoteFor(t, state)
	err := Write(state, make([]byte, MaxRemoteData+1), 0o644)
	if err == nil || !strings.Contains(err.Error(), "more than init stores") {
		t.Fatalf("Write of %d bytes: %v", MaxRemoteData+1, err)
	}
	if err := Write(state, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzServe feeds Serve arbitrary request streams: it must not panic,
// and must touch nothing but the one allowed file.
func FuzzServe(f *testing.F) {
	f.Add([]byte{opRead, 0, 5, 0, 0, 0, 0, '/', 'x', '/', 'y', 'z'})
	f.Add(append(hdr(opWrite, 2, 3), "/a123"...))
	f.Add(append(hdr(opAside, 2, 1), "/ax"...))
	f.Add(append(hdr('Z', 1, 0), "/"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(b), &out}
		Serve(rw, func(p string) error { return errors.New("nothing is allowed") }, nil)
		// Every answer is well formed: a status and its length.
		r := out.Bytes()
		for len(r) > 0 {
			if len(r) < 5 || r[0] > statusNotFound {
				t.Fatalf("malformed answer %q", r)
			}
			n := int(binary.BigEndian.Uint32(r[1:]))
			if len(r) < 5+n {
				t.Fatalf("answer shorter than it declares: %q", r)
			}
			if r[0] == statusOK {
				t.Fatalf("an allowed answer with nothing allowed: %q", r)
			}
			r = r[5+n:]
		}
	})
}
