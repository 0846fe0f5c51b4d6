package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hosts lists the hosts of the config's sources, in order.
func hosts(cfg *Config) string {
	var h []string
	for _, s := range cfg.Sources {
		h = append(h, s.Host)
	}
	return strings.Join(h, " ")
}

func TestIncludeGood(t *testing.T) {
	tests := []struct {
		name         string
		fsys         mapFS
		wantHosts    string
		wantWarnings []string
	}{
		{"one file", files(
			"/etc/ntpbox.conf", "server a.example\ninclude /etc/extra.conf\nserver c.example",
			"/etc/extra.conf", "server b.example"),
			"a.example b.example c.example", nil},
		{"glob in sorted order", files(
			"/etc/ntpbox.conf", "include /etc/ntpbox.d/*.conf",
			"/etc/ntpbox.d/b.conf", "server b.example",
			"/etc/ntpbox.d/a.conf", "server a.example",
			"/etc/ntpbox.d/c.txt", "server c.example"),
			"a.example b.example", nil},
		{"glob matching nothing", files(
			"/etc/ntpbox.conf", "include /etc/ntpbox.d/*.conf\nserver a.example"),
			"a.example", []string{`/etc/ntpbox.conf:1: include: no files match "/etc/ntpbox.d/*.conf"; nothing included`}},
		{"relative names", files(
			"ntpbox.conf", "include sub/x.conf",
			"sub/x.conf", "include sub/y.conf\nserver x.example",
			"sub/y.conf", "server y.example"),
			"y.example x.example", nil},
		{"same file twice is not a cycle", files(
			"/etc/ntpbox.conf", "include /etc/x.conf\ninclude /etc/x.conf",
			"/etc/x.conf", "server x.example"),
			"x.example x.example", nil},
		{"warnings name the included file", files(
			"/etc/ntpbox.conf", "include /etc/x.conf",
			"/etc/x.conf", "\nlogdir /var/log"),
			"", []string{"/etc/x.conf:2: logdir: not implemented by ntpbox; ignored"}},
		{"confdir sorted by name across directories", files(
			"/etc/ntpbox.conf", "confdir /etc/a.d /etc/b.d",
			"/etc/a.d/20-x.conf", "server 20.example",
			"/etc/b.d/10-y.conf", "server 10.example",
			"/etc/b.d/30-z.conf", "server 30.example"),
			"10.example 20.example 30.example", nil},
		{"confdir first directory wins", files(
			"/etc/ntpbox.conf", "confdir /run/ntpbox.d /etc/ntpbox.d",
			"/etc/ntpbox.d/pool.conf", "pool etc.example",
			"/run/ntpbox.d/pool.conf", "pool run.example"),
			"run.example", nil},
		{"confdir skips other files", files(
			"/etc/ntpbox.conf", "confdir /etc/ntpbox.d",
			"/etc/ntpbox.d/a.conf", "server a.example",
			"/etc/ntpbox.d/.hidden.conf", "server hidden.example",
			"/etc/ntpbox.d/b.conf.orig", "server orig.example",
			"/etc/ntpbox.d/dir.conf/c.conf", "server sub.example"),
			"a.example", nil},
		{"confdir missing directory", files(
			"/etc/ntpbox.conf", "confdir /nonexistent /etc/ntpbox.d",
			"/etc/ntpbox.d/a.conf", "server a.example"),
			"a.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := "/etc/ntpbox.conf"
			if _, ok := tt.fsys["ntpbox.conf"]; ok {
				top = "ntpbox.conf"
			}
			cfg, warnings, err := Parse(tt.fsys, top)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := hosts(cfg); got != tt.wantHosts {
				t.Errorf("hosts %q, want %q", got, tt.wantHosts)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.wantWarnings, "\n") {
				t.Errorf("warnings %q, want %q", got, tt.wantWarnings)
			}
		})
	}
}

func TestIncludeBad(t *testing.T) {
	chain := []string{"/etc/ntpbox.conf", ""}
	for i := 1; i <= 10; i++ {
		chain[len(chain)-1] = fmt.Sprintf("include /etc/%d.conf", i)
		chain = append(chain, fmt.Sprintf("/etc/%d.conf", i), "")
	}
	tests := []struct {
		name      string
		fsys      mapFS
		origin    Origin
		directive string
		contains  []string
	}{
		{"missing file", files("/etc/ntpbox.conf", "\ninclude /etc/missing.conf"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 2}, "include", []string{`cannot read "/etc/missing.conf"`}},
		{"no argument", files("/etc/ntpbox.conf", "include"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "include", []string{"expected a file name or a glob pattern, got nothing"}},
		{"two arguments", files("/etc/ntpbox.conf", "include a b"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "include", []string{`extra argument "b"`}},
		{"bad pattern", files("/etc/ntpbox.conf", "include /etc/[.conf"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "include", []string{`expected a valid glob pattern, got "/etc/[.conf"`}},
		{"self include", files("/etc/ntpbox.conf", "include /etc/ntpbox.conf"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "include", []string{"expected no include cycle, got /etc/ntpbox.conf -> /etc/ntpbox.conf"}},
		{"cycle", files(
			"/etc/ntpbox.conf", "include /etc/a.conf",
			"/etc/a.conf", "include /etc/b.conf",
			"/etc/b.conf", "\n\ninclude /etc/./a.conf"),
			Origin{Layer: LayerFile, File: "/etc/b.conf", Line: 3}, "include", []string{"expected no include cycle, got /etc/a.conf -> /etc/b.conf -> /etc/a.conf"}},
		{"cycle through confdir", files(
			"/etc/ntpbox.conf", "confdir /etc/ntpbox.d",
			"/etc/ntpbox.d/a.conf", "include /etc/ntpbox.conf"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.d/a.conf", Line: 1}, "include", []string{"/etc/ntpbox.conf -> /etc/ntpbox.d/a.conf -> /etc/ntpbox.conf"}},
		{"too deep", files(chain...),
			Origin{Layer: LayerFile, File: "/etc/9.conf", Line: 1}, "include", []string{"expected at most 10 nested files", "/etc/9.conf -> /etc/10.conf"}},
		{"error inside included file", files(
			"/etc/ntpbox.conf", "include /etc/x.conf",
			"/etc/x.conf", "server a.example\nport x"),
			Origin{Layer: LayerFile, File: "/etc/x.conf", Line: 2}, "port", []string{`got "x"`}},
		{"confdir no directory", files("/etc/ntpbox.conf", "confdir"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "confdir", []string{"expected 1..10 directories, got 0"}},
		{"confdir too many directories", files("/etc/ntpbox.conf", "confdir a b c d e f g h i j k"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "confdir", []string{"expected 1..10 directories, got 11"}},
		{"confdir on a file", files("/etc/ntpbox.conf", "confdir /etc/ntpbox.conf"),
			Origin{Layer: LayerFile, File: "/etc/ntpbox.conf", Line: 1}, "confdir", []string{`cannot read directory "/etc/ntpbox.conf"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse(tt.fsys, "/etc/ntpbox.conf")
			checkError(t, cfg, err, tt.origin, tt.directive, tt.contains...)
		})
	}
}

func TestIncludeMissingIsNotExist(t *testing.T) {
	_, _, err := Parse(files("/etc/ntpbox.conf", "include /etc/missing.conf"), "/etc/ntpbox.conf")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
}

func TestParseMissingTopFile(t *testing.T) {
	cfg, _, err := Parse(files(), "/etc/ntpbox.conf")
	if cfg != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/etc/ntpbox.conf") {
		t.Errorf("got %v, %v; want a not-exist error naming the file", cfg, err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("a missing top file is not a bad line, got *Error %v", e)
	}
}

// TestLoadRealFiles exercises OSFS with include, confdir and a relative
// include (relative to the working directory, as in chrony).
func TestLoadRealFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("extra/b.conf", "server b.example")
	write("extra/a.conf", "server a.example")
	write("conf.d/c.conf", "server c.example")
	write("conf.d/notes.txt", "garbage")
	write("rel/d.conf", "server d.example")
	top := write("ntpbox.conf", fmt.Sprintf("include %s/extra/*.conf\nconfdir %s/conf.d\ninclude rel/d.conf\nrtcsync\n", dir, dir))
	t.Chdir(dir)

	cfg, warnings, err := Load(top)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := hosts(cfg), "a.example b.example c.example d.example"; got != want {
		t.Errorf("hosts %q, want %q", got, want)
	}
	if !cfg.RTCSync || len(warnings) != 0 {
		t.Errorf("RTCSync %v, warnings %v", cfg.RTCSync, warnings)
	}

	write("broken.conf", "include "+dir+"/missing.conf\n")
	_, _, err = Load(filepath.Join(dir, "broken.conf"))
	checkError(t, nil, err, Origin{Layer: LayerFile, File: filepath.Join(dir, "broken.conf"), Line: 1}, "include", dir+"/missing.conf")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}

	if _, _, err := Load(filepath.Join(dir, "nonexistent.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}
