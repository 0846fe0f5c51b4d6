package appliance

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ntpbox/ntpbox/internal/atomicfile"
	"github.com/ntpbox/ntpbox/internal/persist"
)

// A machine with no RDRAND and no RNG device (an old PC, QEMU's TCG)
// has a kernel random pool that is not ready for minutes after boot.
// Nothing in the boot waits for it; to make it ready at once anyway, init
// does what systemd does:
//
//   - It keeps a random seed on the persistent partition (PermSeed) and
//     credits it at boot (RNDADDENTROPY), but only if it was saved from a
//     ready pool, and only after replacing it, so that no seed is
//     credited twice.
//   - On UEFI, systemd-boot (with `random-seed-mode always` in
//     loader.conf) derives a seed from \loader\random-seed, rewrites that
//     file, and passes the seed in the EFI variable LoaderRandomSeed. The
//     kernel (6.1) does not read it; init deletes it (if the firmware
//     lets it), then credits it.
//     Once the pool is ready, init writes \loader\random-seed if it is
//     missing, so that the next UEFI boot has one. The image ships none:
//     every copy of the image would share it.
//
// The seed file is text, kept as two checksummed copies on FAT (package
// persist):
//
//	# ntpbox random seed: mixed into the kernel's random pool at boot, then replaced
//	credit yes
//	seed 3f9a…(64 hex digits: 32 bytes)
//
// "credit yes" means the bytes came from a ready pool.
const (
	PermSeed   = PermDir + "/random-seed"
	LoaderSeed = PermDir + "/loader/random-seed" // systemd-boot's, raw bytes
	// LoaderRandomSeedVar is systemd-boot's variable in efivarfs's
	// NAME-GUID form.
	LoaderRandomSeedVar = "LoaderRandomSeed-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
	// SeedSize is the size of the seeds init writes: the 256 bits the
	// kernel's pool needs to be ready. systemd-boot takes 32 bytes to
	// 32 KiB.
	SeedSize = 32
	// SeedRefresh is how often the running box saves a fresh seed, so
	// that a power cut leaves one that was not credited yet.
	SeedRefresh = 15 * time.Minute
	maxSeed     = 512
)

// Entropy is what the seed code asks of the kernel: [LinuxEntropy] is
// the real one; tests use a fake.
type Entropy interface {
	// AddEntropy mixes b into the kernel's pool and credits bits of
	// entropy (RNDADDENTROPY; 0 mixes without crediting).
	AddEntropy(b []byte, bits int) error
	// Random fills b without blocking. ready reports that the pool was
	// ready; otherwise the bytes are not fit to credit (GRND_INSECURE).
	Random(b []byte) (ready bool, err error)
	// WaitReady blocks until the kernel's pool is ready.
	WaitReady() error
	// Uptime is the time since the kernel started.
	Uptime() time.Duration
	// EFIVariable returns the data of the UEFI variable name (efivarfs's
	// NAME-GUID), without its attributes: ErrNoEFI when the machine did
	// not boot through UEFI, an error matching fs.ErrNotExist when the
	// variable is not set.
	EFIVariable(name string) ([]byte, error)
	DeleteEFIVariable(name string) error
}

// ErrNoEFI is [Entropy.EFIVariable]'s error on a machine that did not
// boot through UEFI.
var ErrNoEFI = errors.New("not booted through UEFI")

// EncodeSeed returns the seed file's contents for seed.
func EncodeSeed(seed []byte, credit bool) []byte {
	yes := "no"
	if credit {
		yes = "yes"
	}
	return fmt.Appendf(nil, "# ntpbox random seed: mixed into the kernel's random pool at boot, then replaced\ncredit %s\nseed %x\n", yes, seed)
}

// ParseSeed reads a seed file: the seed and whether to credit it.
func ParseSeed(b []byte) (seed []byte, credit bool, err error) {
	var haveCredit bool
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		switch {
		case key == "credit" && (val == "yes" || val == "no") && !haveCredit:
			credit, haveCredit = val == "yes", true
		case key == "seed" && seed == nil:
			seed, err = hex.DecodeString(val)
			if err != nil || len(seed) == 0 || len(seed) > maxSeed {
				return nil, false, fmt.Errorf("line %d: seed: want 1 to %d bytes in hex", i+1, maxSeed)
			}
		default:
			return nil, false, fmt.Errorf("line %d: %q: want `credit yes|no` and `seed HEX`, once each", i+1, line)
		}
	}
	if seed == nil || !haveCredit {
		return nil, false, errors.New("want `credit yes|no` and `seed HEX`")
	}
	return seed, credit, nil
}

// Seeds credits the random seeds at boot ([Seeds.Credit]) and keeps one
// ready for the next boot ([Seeds.Start], [Seeds.Stop]).
type Seeds struct {
	Sys Entropy
	Log *slog.Logger
	// File is the seed file (PermSeed), "" when nothing persists.
	File string
	// LoaderFile is systemd-boot's seed file (LoaderSeed), written once
	// the pool is ready if it is missing and its directory exists; ""
	// for none.
	LoaderFile string
	// Refresh is how often a fresh seed is saved; default SeedRefresh.
	Refresh time.Duration

	write  func(path string, data []byte) error // persist.Write, or a test's
	mu     sync.Mutex                           // one Save at a time
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *Seeds) writeFile(path string, data []byte) error {
	if s.write != nil {
		return s.write(path, data)
	}
	return persist.Write(path, data, 0o600)
}

// Credit credits the seeds there are: systemd-boot's EFI variable, then
// the seed file, each replaced or deleted first. It logs one line for
// each: what was credited, or why not.
func (s *Seeds) Credit() {
	s.creditEFI()
	s.creditFile()
}

func (s *Seeds) creditEFI() {
	seed, err := s.Sys.EFIVariable(LoaderRandomSeedVar)
	switch {
	case errors.Is(err, ErrNoEFI):
		return
	case errors.Is(err, fs.ErrNotExist):
		s.Log.Info("no LoaderRandomSeed from the boot loader (systemd-boot passes one when " + LoaderSeed + " exists)")
		return
	case err != nil:
		s.Log.Warn("random seed not credited: LoaderRandomSeed: " + err.Error())
		return
	}
	// Deleted first, as systemd does. EDK2 (OVMF) refuses to delete a
	// volatile variable after boot, and efivarfs then says EINVAL: the
	// variable stays until the next reset, and init, which runs once a
	// boot, credits it once.
	note := ""
	if err := s.Sys.DeleteEFIVariable(LoaderRandomSeedVar); err != nil {
		note = " (the firmware keeps the variable until the next reset: " + err.Error() + ")"
	}
	if err := s.Sys.AddEntropy(seed, 8*len(seed)); err != nil {
		s.Log.Error("random seed not credited: LoaderRandomSeed: " + err.Error())
		return
	}
	s.Log.Info(fmt.Sprintf("random seed credited: %d bits from LoaderRandomSeed (systemd-boot)%s", 8*len(seed), note))
}

func (s *Seeds) creditFile() {
	if s.File == "" {
		s.Log.Info("random seed not credited: no persistent partition to keep one")
		return
	}
	b, err := persist.Read(s.File)
	if errors.Is(err, fs.ErrNotExist) {
		s.Log.Info("random seed not credited: no " + s.File + " yet; one is saved once the random pool is ready")
		return
	}
	var seed []byte
	var credit bool
	if err == nil {
		seed, credit, err = ParseSeed(b)
	}
	if err != nil {
		s.Log.Warn("random seed not credited: " + s.File + ": " + err.Error())
		return
	}
	// Mix it in first, so that the replacement depends on it, and replace
	// it before crediting it.
	if err := s.Sys.AddEntropy(seed, 0); err != nil {
		s.Log.Error("random seed not credited: " + err.Error())
		return
	}
	if _, err := s.Save(); err != nil {
		s.Log.Error("random seed mixed in, not credited: it could not be replaced, and a seed is never credited twice: " + err.Error())
		return
	}
	if !credit {
		s.Log.Info("random seed mixed in, not credited: " + s.File + " was saved before the random pool was ready")
		return
	}
	if err := s.Sys.AddEntropy(seed, 8*len(seed)); err != nil {
		s.Log.Error("random seed not credited: " + err.Error())
		return
	}
	s.Log.Info(fmt.Sprintf("random seed credited: %d bits from %s", 8*len(seed), s.File))
}

// Save writes a fresh seed to File, creditable if the pool is ready,
// and reports whether it was.
func (s *Seeds) Save() (credit bool, err error) {
	if s.File == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seed := make([]byte, SeedSize)
	credit, err = s.Sys.Random(seed)
	if err != nil {
		return false, fmt.Errorf("random seed: %w", err)
	}
	if err := s.writeFile(s.File, EncodeSeed(seed, credit)); err != nil {
		return false, fmt.Errorf("save random seed: %w", err)
	}
	return credit, nil
}

// Start waits in the background for the kernel's pool, logs when it is
// ready, then saves a creditable seed (and systemd-boot's, if missing),
// and a fresh one every Refresh until [Seeds.Stop].
func (s *Seeds) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		defer func() {
			if r := recover(); r != nil {
				s.Log.Error("panic", "in", "random seeds", "panic", r)
			}
		}()
		s.run(ctx)
	}()
}

// Stop ends what Start started and saves a fresh seed: at shutdown. It
// may be called on a nil *Seeds.
func (s *Seeds) Stop() {
	if s == nil {
		return
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if credit, err := s.Save(); err != nil {
		s.Log.Error(err.Error())
	} else if s.File != "" {
		s.Log.Info("random seed saved for the next boot", "file", s.File, "creditable", credit)
	}
}

func (s *Seeds) run(ctx context.Context) {
	ready := make(chan error, 1)
	go func() { ready <- s.Sys.WaitReady() }()
	select {
	case <-ctx.Done():
		return
	case err := <-ready:
		if err != nil {
			s.Log.Error("waiting for the random pool: " + err.Error())
			break
		}
		msg := fmt.Sprintf("random pool ready after %.1f s", s.Sys.Uptime().Seconds())
		credit, err := s.Save()
		switch {
		case err != nil:
			s.Log.Error(msg + "; " + err.Error())
		case credit:
			s.Log.Info(msg + "; saved a creditable seed to " + s.File)
		default:
			s.Log.Info(msg)
		}
	}
	s.writeLoaderSeed()
	every := s.Refresh
	if every <= 0 {
		every = SeedRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Save(); err != nil {
				s.Log.Error(err.Error())
			}
		}
	}
}

// writeLoaderSeed writes systemd-boot's seed file if it is missing and
// its directory (the loader's) exists. Once there, systemd-boot rewrites
// it at each start: init leaves it alone. A temporary file and rename:
// a power cut leaves no file or a whole one, never a short one.
func (s *Seeds) writeLoaderSeed() {
	if s.LoaderFile == "" {
		return
	}
	if _, err := os.Stat(filepath.Dir(s.LoaderFile)); err != nil {
		return
	}
	if _, err := os.Stat(s.LoaderFile); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	seed := make([]byte, SeedSize)
	if ready, err := s.Sys.Random(seed); err != nil || !ready {
		s.Log.Error("systemd-boot's random seed not written: the pool is not ready", "err", err)
		return
	}
	if err := atomicfile.Write(s.LoaderFile, seed, 0o600); err != nil {
		s.Log.Error("write systemd-boot's random seed", "err", err)
		return
	}
	s.Log.Info("wrote " + s.LoaderFile + " for systemd-boot's next start")
}

// startSeedsLate starts keeping the seed on a persistent partition that
// came after boot: its seed file is credited (systemd-boot's variable was
// credited at boot, and is not again).
func (in *Init) startSeedsLate() {
	if in.Entropy == nil {
		return
	}
	if in.seeds != nil && in.seeds.cancel != nil {
		in.seeds.cancel()
		<-in.seeds.done
	}
	s := &Seeds{Sys: in.Entropy, Log: in.Log, Refresh: in.SeedRefresh, File: PermSeed, LoaderFile: LoaderSeed}
	s.creditFile()
	s.Start()
	in.seeds = s
}

// startSeeds credits the seeds and starts keeping one, when init has an
// [Entropy]: right after the persistent partition is mounted (or not).
func (in *Init) startSeeds(perm bool) *Seeds {
	if in.Entropy == nil {
		return nil
	}
	s := &Seeds{Sys: in.Entropy, Log: in.Log, Refresh: in.SeedRefresh}
	if perm {
		s.File, s.LoaderFile = PermSeed, LoaderSeed
	}
	s.Credit()
	s.Start()
	return s
}
