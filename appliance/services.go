package appliance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ntpbox/ntpbox/internal/persist"
)

// Capabilities (<linux/capability.h>).
const (
	capNetBindService = 10
	capNetRaw         = 13
	capSysTime        = 25
)

// ServiceGID is the group of every service: it may read the merged
// config and make the control socket in their directory, /run/ntpbox.
// The services cannot read or write PermDir: init keeps their state files
// there for them (stateServer).
const ServiceGID = 100

// stateFD is the descriptor on which a service reaches init's
// stateServer (`ntpbox serve -statefd 3`).
const stateFD = 3

// ServiceSpec is one of the box's services as init runs it: its own
// process (`ntpbox serve --service NAME --sandbox`), user and
// capabilities (issue 11). docs/security.md's privilege table lists the same.
type ServiceSpec struct {
	Name string
	Cred Cred
	// CapEff is what /proc/PID/status shows for it.
	CapEff string
	Why    string
}

// ServiceSpecs are the services, NTP first.
var ServiceSpecs = []ServiceSpec{
	{Name: "ntp", Cred: Cred{UID: 101, GID: ServiceGID, Caps: []uintptr{capNetBindService, capSysTime}},
		CapEff: "0000000002000400", Why: "CAP_SYS_TIME to steer the clock, CAP_NET_BIND_SERVICE for UDP 123 and 323 (chronyc)"},
	{Name: "dhcp", Cred: Cred{UID: 102, GID: ServiceGID, Caps: []uintptr{capNetBindService, capNetRaw}},
		CapEff: "0000000000002400", Why: "CAP_NET_BIND_SERVICE for UDP 67 and 547, CAP_NET_RAW for the ARP check before an offer and dhcp auto's probe"},
	{Name: "dns", Cred: Cred{UID: 103, GID: ServiceGID, Caps: []uintptr{capNetBindService}},
		CapEff: "0000000000000400", Why: "CAP_NET_BIND_SERVICE for port 53"},
	{Name: "web", Cred: Cred{UID: 104, GID: ServiceGID, Caps: []uintptr{capNetBindService}},
		CapEff: "0000000000000400", Why: "CAP_NET_BIND_SERVICE for port 80 (`http`: the status page and /metrics); it reads the others' reports over unix sockets"},
}

// serviceArgv is the command line of run of service svc; ntpbox.testdebug
// on the kernel command line adds -d (debug messages: each sample's
// fate), for diagnosing the time a box serves; ntpbox.testsyscall=SVC[:S],...
// makes the first run of each SVC named make a forbidden system call
// after S seconds (default 3), so that a test sees the filter kill it
// and the supervisor restart it; ntpbox.testperm makes each service try
// to write PermDir and read its random seed at start, and log the
// outcome.
func serviceArgv(self, svc string, run int, hooks map[string]string) []string {
	argv := []string{self, "serve", "-c", RunConfig, "-service", svc, "-sandbox", "-statefd", strconv.Itoa(stateFD)}
	if _, ok := hooks["testdebug"]; ok {
		argv = append(argv, "-d")
	}
	if _, ok := hooks["testperm"]; ok && run == 1 {
		argv = append(argv, "-testperm", PermDir)
	}
	if run == 1 {
		for _, e := range strings.Split(hooks["testsyscall"], ",") {
			name, secs, ok := strings.Cut(e, ":")
			if !ok {
				secs = "3"
			}
			if name == svc {
				argv = append(argv, "-testsyscall", secs+"s")
			}
		}
	}
	return argv
}

// procStatus is what /proc/PID/status says about a process's privileges.
type procStatus struct {
	UID, CapEff, NoNewPrivs, Seccomp string
}

func parseProcStatus(b []byte) procStatus {
	var st procStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Uid":
			st.UID = f[0] // real; effective, saved and fs follow
		case "CapEff":
			st.CapEff = f[0]
		case "NoNewPrivs":
			st.NoNewPrivs = f[0]
		case "Seccomp":
			st.Seccomp = f[0]
		}
	}
	return st
}

// watchSandbox reads /proc/PID/status of a service until its seccomp
// filter is in place (Seccomp: 2), and logs its privileges; or warns,
// after 5 s, that it is not confined as it should be.
func (in *Init) watchSandbox(ctx context.Context, spec ServiceSpec, p Process) {
	path := fmt.Sprintf("/proc/%d/status", p.Pid())
	deadline := time.Now().Add(5 * time.Second)
	var st procStatus
	for {
		b, err := in.Sys.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return // gone already: the supervisor says how it ended
		}
		st = parseProcStatus(b)
		if st.Seccomp == "2" {
			break
		}
		if time.Now().After(deadline) {
			in.Log.Warn("service not confined", "service", spec.Name, "pid", p.Pid(), "uid", st.UID, "capeff", st.CapEff,
				"no_new_privs", st.NoNewPrivs, "seccomp", st.Seccomp)
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-p.Done():
			return
		case <-ctx.Done():
			return
		}
	}
	lvl, msg := in.Log.Info, "service confined"
	if st.UID == "0" || st.CapEff != spec.CapEff || st.NoNewPrivs != "1" {
		lvl, msg = in.Log.Warn, "service confined, but not as it should be"
	}
	lvl(msg, "service", spec.Name, "pid", p.Pid(), "uid", st.UID, "capeff", st.CapEff, "no_new_privs", st.NoNewPrivs, "seccomp", st.Seccomp)
}

// othersWait is the longest the other services wait for NTP to be ready.
const othersWait = 2 * time.Second

// startServices supervises each service in its own goroutine, NTP first:
// the others start once NTP's first run is ready (it listens), or
// othersWait after it started, whichever comes first. Each service is a
// fresh exec of the 16 MB binary; on one slow CPU (an old PC, QEMU's
// TCG) four starting at once made NTP's first reply 0.3-0.5 s later.
// ready and onReady are the NTP supervisor's Ready and OnReady. It returns a channel closed once
// every supervisor has stopped its service (after ctx is done).
func (in *Init) startServices(ctx context.Context, hooks map[string]string, ready func() bool, onReady func(p Process, run int)) <-chan struct{} {
	done := make(chan struct{})
	ntpStarted, ntpReady := make(chan struct{}), make(chan struct{})
	var readyOnce sync.Once
	ntpOnReady := func(p Process, run int) {
		readyOnce.Do(func() { close(ntpReady) })
		if onReady != nil {
			onReady(p, run)
		}
	}
	pids := &servicePids{m: map[string]int{}}
	if _, ok := hooks["testrss"]; ok {
		go in.logRSS(ctx, pids)
	}
	var running []chan struct{}
	for i, spec := range ServiceSpecs {
		cred := spec.Cred
		sup := &Supervisor{
			ArgvFor:     func(run int) []string { return serviceArgv(in.Self, spec.Name, run, hooks) },
			Start:       in.Start,
			Cred:        &cred,
			Log:         in.Log.With("service", spec.Name),
			StopTimeout: in.StopTimeout,
			FilesFor:    func(int) ([]*os.File, func(), error) { return in.stateServer(spec.Name) },
			OnStart: func(p Process, run int) {
				pids.set(spec.Name, p.Pid())
				if i == 0 && run == 1 {
					close(ntpStarted)
				}
				in.watchSandbox(ctx, spec, p)
				if hooks["testkill"] == spec.Name && run == 1 && i > 0 {
					in.Log.Warn("ntpbox.testkill: killing the service once", "service", spec.Name, "pid", p.Pid())
					p.Signal(syscall.SIGKILL)
				}
			},
		}
		if i == 0 {
			sup.Ready, sup.OnReady = ready, ntpOnReady
		}
		c := make(chan struct{})
		running = append(running, c)
		go func() {
			defer close(c)
			defer in.recoverLog("supervisor " + spec.Name)
			if i > 0 {
				select {
				case <-ntpStarted:
				case <-ctx.Done():
					return
				}
				select {
				case <-ntpReady:
				case <-time.After(othersWait):
				case <-ctx.Done():
					return
				}
			}
			sup.Run(ctx)
		}()
	}
	go func() {
		for _, c := range running {
			<-c
		}
		close(done)
	}()
	return done
}

// stateServer makes the socket on which one run of service svc asks init
// to read, write and remove its state files on PermDir (package persist's
// Serve), and serves it until the run ends: the file for the service
// (its descriptor 3), and what the supervisor calls then. Only the paths
// the published config gives that service (config.StateFiles) are
// allowed, as they are when the request comes.
func (in *Init) stateServer(svc string) ([]*os.File, func(), error) {
	syscall.ForkLock.RLock() // no other start may inherit them before close-on-exec is set
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("state socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "state-"+svc), os.NewFile(uintptr(fds[1]), "state")
	log := in.Log.With("service", svc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer in.recoverLog("state server " + svc)
		w := &stateWrites{}
		err := persist.Serve(mine, in.stateAllow(svc), func(op byte, path string, err error) {
			switch {
			case err == nil && op == 'W':
				w.wrote(path, time.Now())
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				log.Warn("state file request failed", "op", string(op), "path", path, "err", err)
			}
		})
		if err != nil {
			log.Warn("state file requests: connection ended", "err", err)
		}
		w.log(log)
	}()
	return []*os.File{theirs}, func() {
		mine.Close() // ends Serve if the service left a request half sent
		<-done
	}, nil
}

// stateWrites counts one service run's writes of each state file, and
// the shortest time between two writes of the same file: logged when
// the run ends, so that the DHCP server's promise (at most one
// lease-file write a second) is checked from outside the service.
type stateWrites struct {
	files []string
	n     map[string]int
	last  map[string]time.Time
	min   map[string]time.Duration
}

func (w *stateWrites) wrote(path string, now time.Time) {
	if w.n == nil {
		w.n, w.last, w.min = map[string]int{}, map[string]time.Time{}, map[string]time.Duration{}
	}
	if w.n[path] == 0 {
		w.files = append(w.files, path)
	} else if d := now.Sub(w.last[path]); w.n[path] == 1 || d < w.min[path] {
		w.min[path] = d
	}
	w.n[path]++
	w.last[path] = now
}

func (w *stateWrites) log(log *slog.Logger) {
	for _, f := range w.files {
		args := []any{"path", f, "writes", w.n[f]}
		if w.n[f] > 1 {
			args = append(args, "min_interval", w.min[f].Round(time.Millisecond))
		}
		log.Info("state file writes", args...)
	}
}

// stateAllow is what service svc may keep through stateServer: the state
// files of the config init published last.
func (in *Init) stateAllow(svc string) persist.Allow {
	return func(path string) error {
		cfg := in.published.Load()
		if cfg == nil {
			return errors.New("no config published yet")
		}
		files := cfg.StateFiles(svc)
		for _, f := range files {
			if f == path {
				return nil
			}
		}
		if len(files) == 0 {
			return fmt.Errorf("the %s service keeps no state files with this config", svc)
		}
		return fmt.Errorf("not a state file of the %s service (%s)", svc, strings.Join(files, ", "))
	}
}

// servicePids are the services' current processes.
type servicePids struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *servicePids) set(name string, pid int) {
	s.mu.Lock()
	s.m[name] = pid
	s.mu.Unlock()
}

func (s *servicePids) get(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name]
}

// vmRSS is the VmRSS line of /proc/PID/status, in kB ("" if unknown).
func vmRSS(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return ""
}

// rollupPss is the Pss line of /proc/PID/smaps_rollup, in kB.
func rollupPss(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return ""
}

// logRSS is the ntpbox.testrss hook, a test convenience: init logs the
// resident memory of itself and of each service once a second, so that
// a load test can bound it from outside the box.
func (in *Init) logRSS(ctx context.Context, pids *servicePids) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		args := []any{}
		self, _ := in.Sys.ReadFile("/proc/self/status")
		args = append(args, "init_kb", vmRSS(self))
		// PSS counts a page shared by n processes (the one ntpbox
		// binary's text, mapped by init and each service) as 1/n in
		// each: the sum is the box's memory, where the sum of RSS counts
		// the binary once per process.
		pss, _ := in.Sys.ReadFile("/proc/self/smaps_rollup")
		psss := []any{"init_pss", rollupPss(pss)}
		for _, spec := range ServiceSpecs {
			var rss, ps string
			if pid := pids.get(spec.Name); pid > 0 {
				b, _ := in.Sys.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				rss = vmRSS(b)
				b, _ = in.Sys.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
				ps = rollupPss(b)
			}
			args = append(args, spec.Name+"_kb", rss)
			psss = append(psss, spec.Name+"_pss", ps)
		}
		args = append(args, psss...)
		in.Log.Info("rss", args...)
	}
}
