package initramfs

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
)

// Spec is what goes into the initramfs.
type Spec struct {
	Init          []byte   // the static ntpbox binary, as /init
	Config        []byte   // /etc/ntpbox.conf
	KernelVersion string   // e.g. 6.1.0-56-amd64: the modules go to lib/modules/KernelVersion
	Modules       []Module // from Tree.Resolve
	ModuleFS      fs.FS    // the tree the modules are read from
	// CompressModules stores each module as .ko.zst (u-root's kmodule
	// decompresses it when loading), which keeps the unpacked initramfs,
	// and so the RAM it takes, small.
	CompressModules bool
	// CACerts, if set, is /etc/ssl/certs/ca-certificates.crt: the
	// certificate authorities for authenticated upstreams.
	CACerts []byte
	// BuildTime, if set, is written to /etc/ntpbox-build-time (RFC 3339,
	// UTC, to the second): init's floor for the system clock.
	BuildTime time.Time
}

// Paths in the initramfs (without the leading slash).
const (
	CACertsPath   = "etc/ssl/certs/ca-certificates.crt"
	BuildTimePath = "etc/ntpbox-build-time"
)

// Entry is one file of the archive, for the manifest.
type Entry struct {
	Name   string
	Mode   uint64
	Size   int
	SHA256 string // "" for directories and devices
}

// Build returns the records of the initramfs, parents before children,
// made reproducible.
func Build(s Spec) ([]cpio.Record, error) {
	files := map[string][]byte{
		"init":            s.Init,
		"etc/ntpbox.conf": s.Config,
	}
	if s.CACerts != nil {
		files[CACertsPath] = s.CACerts
	}
	if !s.BuildTime.IsZero() {
		files[BuildTimePath] = []byte(s.BuildTime.UTC().Format(time.RFC3339) + "\n")
	}
	modes := map[string]uint64{"init": 0o755}
	if len(s.Modules) > 0 {
		dir := "lib/modules/" + s.KernelVersion
		suffix := ""
		if s.CompressModules {
			suffix = ".zst"
		}
		for _, m := range s.Modules {
			data, err := fs.ReadFile(s.ModuleFS, m.Path)
			if err != nil {
				return nil, fmt.Errorf("read module %s: %w", m.Path, err)
			}
			if s.CompressModules {
				if data, err = zstdBytes(data); err != nil {
					return nil, fmt.Errorf("compress module %s: %w", m.Path, err)
				}
			}
			files[dir+"/"+m.Path+suffix] = data
		}
		dep, err := ModulesDep(s.Modules, suffix)
		if err != nil {
			return nil, err
		}
		files[dir+"/modules.dep"] = []byte(dep)
		files[dir+"/modules.alias"] = []byte(ModulesAlias(s.Modules))
	}

	dirs := map[string]bool{"dev": true, "etc": true, "proc": true, "sys": true, "run": true, "tmp": true}
	for name := range files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var recs []cpio.Record
	for _, d := range sorted(dirs) {
		mode := uint64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		recs = append(recs, cpio.Directory(d, mode))
	}
	// The kernel opens /dev/console for init before anything is
	// mounted; without it init prints nothing. /dev/null is the
	// service's stdin until devtmpfs is mounted over /dev.
	recs = append(recs, cpio.CharDev("dev/console", 0o600, 5, 1), cpio.CharDev("dev/null", 0o666, 1, 3))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mode := modes[n]
		if mode == 0 {
			mode = 0o644
		}
		recs = append(recs, cpio.StaticRecord(files[n], cpio.Info{Name: n, Mode: cpio.S_IFREG | mode}))
	}
	cpio.MakeAllReproducible(recs)
	for i := range recs {
		recs[i].Ino = uint64(i + 1)
		recs[i].NLink = 1
	}
	return recs, nil
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	// Sorting puts "a" before "a/b": parents before children.
	sort.Strings(out)
	return out
}

// zstdBytes compresses with a fixed encoder setup, so the same module
// always gives the same bytes.
func zstdBytes(b []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil), nil
}

// Write writes the records as a newc archive with its trailer, gzipped
// when compress is set (the kernel's gzip decoder is the quickest under
// QEMU's TCG). gzip's header carries no name and no time.
func Write(w io.Writer, recs []cpio.Record, compress bool) error {
	var gz *gzip.Writer
	if compress {
		var err error
		if gz, err = gzip.NewWriterLevel(w, gzip.BestCompression); err != nil {
			return err
		}
		w = gz
	}
	cw := cpio.Newc.Writer(w)
	if err := cpio.WriteRecords(cw, recs); err != nil {
		return fmt.Errorf("write cpio: %w", err)
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return fmt.Errorf("write cpio trailer: %w", err)
	}
	if gz != nil {
		return gz.Close()
	}
	return nil
}

// Manifest lists the records: mode, size, sha256 and name, one a line.
func Manifest(recs []cpio.Record) ([]Entry, error) {
	var out []Entry
	for _, r := range recs {
		e := Entry{Name: r.Name, Mode: r.Mode, Size: int(r.FileSize)}
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize))); err != nil {
				return nil, fmt.Errorf("hash %s: %w", r.Name, err)
			}
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		out = append(out, e)
	}
	return out, nil
}

// FormatManifest renders entries as text, one a line:
// "MODE SIZE SHA256 NAME" ("-" for no hash).
func FormatManifest(entries []Entry) string {
	var b strings.Builder
	for _, e := range entries {
		sum := e.SHA256
		if sum == "" {
			sum = "-"
		}
		fmt.Fprintf(&b, "%07o %9d %s %s\n", e.Mode, e.Size, sum, e.Name)
	}
	return b.String()
}
