package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestTuningDefaults(t *testing.T) {
	cfg, warnings := mustParse(t, "server ntp1\n")
	want := Tuning{MaxDistance: 3, MaxJitter: 1, CombineLimit: 3, StratumWeight: 0.001, ReselectDist: 0.0001,
		MaxClockError: 1, MaxDrift: 500000, MaxSlewRate: 1e6 / 12, MaxUpdateSkew: 1000, MinSamples: 6, MaxSamples: 0,
		CorrTimeRatio: 3}
	if cfg.Tuning != want || DefaultTuning() != want {
		t.Errorf("Tuning %+v, DefaultTuning %+v, want %+v", cfg.Tuning, DefaultTuning(), want)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %v", warnings)
	}
	for _, d := range tuningNumbers {
		if _, ok := cfg.OriginOf(d.name); ok {
			t.Errorf("%s has an origin without a line", d.name)
		}
	}
}

func TestTuningGood(t *testing.T) {
	tests := []struct {
		text string
		edit func(*Tuning)
	}{
		{"maxdistance 16", func(t *Tuning) { t.MaxDistance = 16 }},
		{"maxdistance 0", func(t *Tuning) { t.MaxDistance = 0 }},
		{"maxjitter 0.05", func(t *Tuning) { t.MaxJitter = 0.05 }},
		{"combinelimit 0", func(t *Tuning) { t.CombineLimit = 0 }},
		{"stratumweight 1e-2", func(t *Tuning) { t.StratumWeight = 0.01 }},
		{"reselectdist 0.001", func(t *Tuning) { t.ReselectDist = 0.001 }},
		{"maxclockerror 10", func(t *Tuning) { t.MaxClockError = 10 }},
		{"maxdrift 500", func(t *Tuning) { t.MaxDrift = 500 }},
		{"maxdrift 500000", func(t *Tuning) {}},
		{"maxslewrate 1000", func(t *Tuning) { t.MaxSlewRate = 1000 }},
		{"maxupdateskew 100", func(t *Tuning) { t.MaxUpdateSkew = 100 }},
		{"maxupdateskew -10", func(t *Tuning) { t.MaxUpdateSkew = 10 }}, // chrony takes the absolute value
		{"minsamples 4", func(t *Tuning) { t.MinSamples = 4 }},
		{"minsamples 0", func(t *Tuning) { t.MinSamples = 0 }},
		{"maxsamples 64", func(t *Tuning) { t.MaxSamples = 64 }},
		{"maxsamples 1", func(t *Tuning) { t.MaxSamples = 1 }},
		{"corrtimeratio 10", func(t *Tuning) { t.CorrTimeRatio = 10 }},
		{"clockprecision 8e-9", func(t *Tuning) { t.ClockPrecision = 8e-9 }},
		{"clockprecision 1", func(t *Tuning) { t.ClockPrecision = 1 }},
		{"fallbackdrift 16 19", func(t *Tuning) { t.FallbackDrift = &FallbackDrift{16, 19} }},
		{"fallbackdrift 1 30", func(t *Tuning) { t.FallbackDrift = &FallbackDrift{1, 30} }},
		{"fallbackdrift 16 16", func(t *Tuning) { t.FallbackDrift = &FallbackDrift{16, 16} }},
		// chrony's "no fallback drifts": a 0 bound, or max < min.
		{"fallbackdrift 0 0", func(t *Tuning) {}},
		{"fallbackdrift 0 19", func(t *Tuning) {}},
		{"fallbackdrift 16 0", func(t *Tuning) {}},
		{"fallbackdrift 19 16", func(t *Tuning) {}},
		{"fallbackdrift 16 19\nfallbackdrift 0 0", func(t *Tuning) {}},
		{"leapsectz right/UTC", func(t *Tuning) { t.LeapSecTZ = "right/UTC" }},
		{"LeapSecTZ Right/UTC", func(t *Tuning) { t.LeapSecTZ = "Right/UTC" }},
		// A repeated directive overrides the earlier one.
		{"maxdistance 16\nmaxdistance 5", func(t *Tuning) { t.MaxDistance = 5 }},
		{"minsamples 4\nminsamples 8", func(t *Tuning) { t.MinSamples = 8 }},
		{"fallbackdrift 16 19\nfallbackdrift 12 14", func(t *Tuning) { t.FallbackDrift = &FallbackDrift{12, 14} }},
		{"leapsectz right/UTC\nleapsectz right/Europe/Paris", func(t *Tuning) { t.LeapSecTZ = "right/Europe/Paris" }},
		{"MAXJITTER 2", func(t *Tuning) { t.MaxJitter = 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			cfg, warnings := mustParse(t, tt.text)
			want := DefaultTuning()
			tt.edit(&want)
			if !reflect.DeepEqual(cfg.Tuning, want) {
				t.Errorf("Tuning %+v\nwant   %+v", cfg.Tuning, want)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings %v, want none", warnings)
			}
			lines := strings.Split(tt.text, "\n")
			name := strings.ToLower(strings.Fields(lines[len(lines)-1])[0])
			if o, ok := cfg.OriginOf(name); !ok || o.Line != len(lines) || o.File != testFile {
				t.Errorf("origin of %s: %v %v, want line %d", name, o, ok, len(lines))
			}
		})
	}
}

func TestTuningBad(t *testing.T) {
	tests := []struct{ line, want string }{
		{"maxdistance -1", `maxdistance: expected a number >= 0, got "-1"`},
		{"maxdistance abc", `maxdistance: expected a number >= 0, got "abc"`},
		{"maxdistance", `maxdistance: expected a distance in seconds, got nothing`},
		{"maxdistance 1 2", `maxdistance: expected only a distance in seconds, got extra argument "2"`},
		{"maxdistance inf", `maxdistance: expected a number >= 0, got "inf"`},
		{"maxdistance 1e999", `maxdistance: expected a number >= 0, got "1e999"`},
		{"maxjitter -0.1", `maxjitter: expected a number >= 0, got "-0.1"`},
		{"maxjitter", `maxjitter: expected a jitter in seconds, got nothing`},
		{"combinelimit -3", `combinelimit: expected a number >= 0, got "-3"`},
		{"combinelimit three", `combinelimit: expected a number >= 0, got "three"`},
		{"stratumweight -1e-3", `stratumweight: expected a number >= 0, got "-1e-3"`},
		{"reselectdist 0x10", `reselectdist: expected a number >= 0, got "0x10"`},
		{"maxclockerror -1", `maxclockerror: expected a number >= 0, got "-1"`},
		{"maxclockerror", `maxclockerror: expected an error in ppm, got nothing`},
		{"maxdrift 500001", `maxdrift: expected a number 0..500000, got "500001"`},
		{"maxdrift -1", `maxdrift: expected a number 0..500000, got "-1"`},
		{"maxslewrate -5", `maxslewrate: expected a number >= 0, got "-5"`},
		{"maxslewrate", `maxslewrate: expected a rate in ppm, got nothing`},
		{"maxupdateskew nan", `maxupdateskew: expected a number, got "nan"`},
		{"maxupdateskew", `maxupdateskew: expected a skew in ppm, got nothing`},
		{"minsamples -1", `minsamples: expected an integer 0..2147483647, got "-1"`},
		{"minsamples 4.5", `minsamples: expected an integer 0..2147483647, got "4.5"`},
		{"minsamples 2147483648", `minsamples: expected an integer 0..2147483647, got "2147483648"`},
		{"minsamples", `minsamples: expected a number of samples, got nothing`},
		{"maxsamples -1", `maxsamples: expected an integer 0..2147483647, got "-1"`},
		{"maxsamples 64 128", `maxsamples: expected only a number of samples, got extra argument "128"`},
		{"corrtimeratio -1", `corrtimeratio: expected a number >= 0, got "-1"`},
		{"clockprecision 2", `clockprecision: expected a number 0..1, got "2"`},
		{"clockprecision -1e-9", `clockprecision: expected a number 0..1, got "-1e-9"`},
		{"clockprecision", `clockprecision: expected a precision in seconds, got nothing`},
		{"fallbackdrift 16", `fallbackdrift: expected 2 arguments (a minimum and a maximum interval, log2 seconds), got 1`},
		{"fallbackdrift 16 19 20", `fallbackdrift: expected 2 arguments (a minimum and a maximum interval, log2 seconds), got 3`},
		{"fallbackdrift -1 19", `fallbackdrift: min: expected an integer 0..30, got "-1"`},
		{"fallbackdrift 16 31", `fallbackdrift: max: expected an integer 0..30, got "31"`},
		{"fallbackdrift a 19", `fallbackdrift: min: expected an integer 0..30, got "a"`},
		{"leapsectz", `leapsectz: expected a time zone name, such as right/UTC, got nothing`},
		{"leapsectz right/UTC UTC", `leapsectz: expected only a time zone name, such as right/UTC, got extra argument "UTC"`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cfg, _, err := ParseBytes(testFile, []byte("maxdistance 5\n"+tt.line))
			if want := "test.conf:2: " + tt.want; cfg != nil || err == nil || err.Error() != want {
				t.Errorf("got %v, %v\nwant error %s", cfg, err, want)
			}
		})
	}
}

// TestSourceOptionsDefaults: every server, pool and lease source has
// chrony's defaults.
func TestSourceOptionsDefaults(t *testing.T) {
	cfg, _ := mustParse(t, "server ntp1\npool pool.example\n")
	for _, s := range cfg.Sources {
		if s.MaxDelay != 3 || s.MaxDelayRatio != 0 || s.MaxDelayDevRatio != 10 || s.MinDelay != 0 ||
			s.Asymmetry != 1 || s.Offset != 0 || s.MinStratum != 0 || s.Filter != 0 || s.PollTarget != 8 ||
			s.Presend != 100 || s.Version != 4 || s.MinSamples != -1 || s.MaxSamples != -1 || s.XLeave || s.Options != nil {
			t.Errorf("%s: %+v", s.Host, s)
		}
	}
	def := DefaultSource(true)
	def.Origin, def.Host = cfg.Sources[1].Origin, cfg.Sources[1].Host
	if !reflect.DeepEqual(def, cfg.Sources[1]) {
		t.Errorf("DefaultSource(true) %+v\nparsed pool        %+v", def, cfg.Sources[1])
	}
}

func TestSourceOptionsGood(t *testing.T) {
	tests := []struct {
		opts string
		edit func(*Source)
	}{
		{"maxdelay 0.3", func(s *Source) { s.MaxDelay = 0.3 }},
		{"maxdelay 1000", func(s *Source) { s.MaxDelay = 1000 }},
		{"maxdelay 0", func(s *Source) { s.MaxDelay = 0 }},
		{"maxdelayratio 2", func(s *Source) { s.MaxDelayRatio = 2 }},
		{"maxdelayratio 1e6", func(s *Source) { s.MaxDelayRatio = 1e6 }},
		{"maxdelaydevratio 5.5", func(s *Source) { s.MaxDelayDevRatio = 5.5 }},
		{"maxdelaydevratio 0", func(s *Source) { s.MaxDelayDevRatio = 0 }},
		{"mindelay 1e-4", func(s *Source) { s.MinDelay = 1e-4 }},
		{"asymmetry -0.5", func(s *Source) { s.Asymmetry = -0.5 }},
		{"asymmetry 0.5", func(s *Source) { s.Asymmetry = 0.5 }},
		{"asymmetry 0", func(s *Source) { s.Asymmetry = 0 }},
		{"offset -0.00005", func(s *Source) { s.Offset = -0.00005 }},
		{"offset 3600", func(s *Source) { s.Offset = 3600 }},
		{"minstratum 16", func(s *Source) { s.MinStratum = 16 }},
		{"minstratum 3", func(s *Source) { s.MinStratum = 3 }},
		{"filter 3", func(s *Source) { s.Filter = 3 }},
		{"filter 0", func(s *Source) {}},
		{"polltarget 60", func(s *Source) { s.PollTarget = 60 }},
		{"polltarget 1", func(s *Source) { s.PollTarget = 1 }},
		{"presend 9", func(s *Source) { s.Presend = 9 }},
		{"presend 0", func(s *Source) { s.Presend = 0 }},
		{"presend -32", func(s *Source) { s.Presend = -32 }},
		{"version 3", func(s *Source) { s.Version = 3 }},
		{"version 1", func(s *Source) { s.Version = 1 }},
		{"minsamples 4", func(s *Source) { s.MinSamples = 4 }},
		{"minsamples 0", func(s *Source) { s.MinSamples = 0 }},
		{"maxsamples 64", func(s *Source) { s.MaxSamples = 64 }},
		{"xleave", func(s *Source) { s.XLeave = true }},
		{"XLEAVE xleave", func(s *Source) { s.XLeave = true }},
		// A repeated option overrides the earlier one.
		{"maxdelay 0.3 maxdelay 0.1", func(s *Source) { s.MaxDelay = 0.1 }},
		{"version 3 version 2", func(s *Source) { s.Version = 2 }},
		{"MaxDelay 0.01 MINSAMPLES 8 iburst Presend 10", func(s *Source) {
			s.MaxDelay, s.MinSamples, s.IBurst, s.Presend = 0.01, 8, true, 10
		}},
	}
	for _, tt := range tests {
		for _, kind := range []string{"server", "pool"} {
			t.Run(kind+" "+tt.opts, func(t *testing.T) {
				cfg, warnings := mustParse(t, kind+" ntp.example "+tt.opts)
				want := src("ntp.example", kind == "pool", tt.edit)
				if got := cfg.Sources[0]; !reflect.DeepEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
				if len(warnings) != 0 {
					t.Errorf("warnings %v, want none", warnings)
				}
			})
		}
	}
}

func TestSourceOptionsBad(t *testing.T) {
	tests := []struct{ opts, want string }{
		{"maxdelay 1001", `maxdelay: expected a number 0..1000, got "1001"`},
		{"maxdelay -0.1", `maxdelay: expected a number 0..1000, got "-0.1"`},
		{"maxdelay abc", `maxdelay: expected a number 0..1000, got "abc"`},
		{"maxdelay", `maxdelay: expected a number 0..1000, got nothing`},
		{"maxdelayratio -1", `maxdelayratio: expected a number 0..1e+06, got "-1"`},
		{"maxdelayratio 2e6", `maxdelayratio: expected a number 0..1e+06, got "2e6"`},
		{"maxdelaydevratio -1", `maxdelaydevratio: expected a number 0..1e+06, got "-1"`},
		{"maxdelaydevratio ten", `maxdelaydevratio: expected a number 0..1e+06, got "ten"`},
		{"mindelay -1e-4", `mindelay: expected a number >= 0, got "-1e-4"`},
		{"mindelay", `mindelay: expected a number >= 0, got nothing`},
		{"asymmetry 0.6", `asymmetry: expected a number -0.5..0.5, got "0.6"`},
		{"asymmetry 1", `asymmetry: expected a number -0.5..0.5, got "1"`},
		{"asymmetry -0.51", `asymmetry: expected a number -0.5..0.5, got "-0.51"`},
		{"offset nan", `offset: expected a number, got "nan"`},
		{"offset 1e400", `offset: expected a number, got "1e400"`},
		{"offset", `offset: expected a number, got nothing`},
		{"minstratum 17", `minstratum: expected an integer 0..16, got "17"`},
		{"minstratum -1", `minstratum: expected an integer 0..16, got "-1"`},
		{"filter -1", `filter: expected an integer 0..2147483647, got "-1"`},
		{"filter 2.5", `filter: expected an integer 0..2147483647, got "2.5"`},
		{"polltarget 0", `polltarget: expected an integer 1..2147483647, got "0"`},
		{"polltarget", `polltarget: expected an integer 1..2147483647, got nothing`},
		{"presend 33", `presend: expected an integer -32..32, got "33"`},
		{"presend 100", `presend: expected an integer -32..32, got "100"`},
		{"presend -33", `presend: expected an integer -32..32, got "-33"`},
		{"version 0", `version: expected an integer 1..4, got "0"`},
		{"version 5", `version: expected an integer 1..4, got "5"`},
		{"version v4", `version: expected an integer 1..4, got "v4"`},
		{"minsamples -1", `minsamples: expected an integer 0..2147483647, got "-1"`},
		{"maxsamples -1", `maxsamples: expected an integer 0..2147483647, got "-1"`},
		{"maxsamples x", `maxsamples: expected an integer 0..2147483647, got "x"`},
		{"xleave 1", `unknown option "1"`},
	}
	for _, tt := range tests {
		t.Run(tt.opts, func(t *testing.T) {
			cfg, _, err := ParseBytes(testFile, []byte("\nserver ntp1 iburst "+tt.opts))
			if want := "test.conf:2: server: " + tt.want; cfg != nil || err == nil || err.Error() != want {
				t.Errorf("got %v, %v\nwant error %s", cfg, err, want)
			}
		})
	}
}

// TestRenderTuning: `ntpbox config` shows the Tuning directives and the
// source options that are not at their defaults, each with its origin, in
// chrony.conf syntax that parses back to the same settings.
func TestRenderTuning(t *testing.T) {
	text := `server ntp1 iburst maxdelay 0.3 maxdelayratio 2 maxdelaydevratio 5 mindelay 0.0001 asymmetry 0 offset -5e-05 minstratum 2 filter 3 polltarget 16 presend 9 version 3 minsamples 4 maxsamples 32 xleave copy
pool pool.example maxsources 2 presend 0 asymmetry -0.25
maxdistance 16
maxjitter 0.5
combinelimit 0
stratumweight 0.01
reselectdist 0.001
maxclockerror 10
maxdrift 500
maxslewrate 1000
maxupdateskew -100
minsamples 4
maxsamples 32
corrtimeratio 10
fallbackdrift 16 19
leapsectz right/UTC
clockprecision 8e-9
leapsecmode system
maxdistance 8
`
	cfg, _ := mustParse(t, text)
	var buf strings.Builder
	if err := cfg.Render(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"server ntp1 iburst maxdelay 0.3 maxdelayratio 2 maxdelaydevratio 5 mindelay 0.0001 asymmetry 0 offset -5e-05 minstratum 2 filter 3 polltarget 16 presend 9 version 3 minsamples 4 maxsamples 32 xleave # test.conf:1\n",
		"pool pool.example maxsources 2 asymmetry -0.25 presend 0 # test.conf:2\n",
		"maxdistance 8                           # test.conf:19\n",
		"maxjitter 0.5                           # test.conf:4\n",
		"combinelimit 0                          # test.conf:5\n",
		"stratumweight 0.01                      # test.conf:6\n",
		"reselectdist 0.001                      # test.conf:7\n",
		"maxclockerror 10                        # test.conf:8\n",
		"maxdrift 500                            # test.conf:9\n",
		"maxslewrate 1000                        # test.conf:10\n",
		"maxupdateskew 100                       # test.conf:11\n",
		"minsamples 4                            # test.conf:12\n",
		"maxsamples 32                           # test.conf:13\n",
		"corrtimeratio 10                        # test.conf:14\n",
		"clockprecision 8e-09                    # test.conf:17\n",
		"fallbackdrift 16 19                     # test.conf:15\n",
		"leapsectz right/UTC                     # test.conf:16\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Render lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "leapsecmode") {
		t.Errorf("Render shows leapsecmode system, the only mode:\n%s", out)
	}
	back, warnings, err := ParseBytes("rendered.conf", []byte(out))
	if err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, out)
	}
	if w := warnings; len(w) != 0 {
		t.Errorf("rendered config warns: %v", w)
	}
	if a, b := settings(cfg), settings(back); !reflect.DeepEqual(a, b) {
		t.Errorf("round trip changed the settings:\n got  %+v\n want %+v", b, a)
	}

	// At their defaults, nothing is shown.
	cfg, _ = mustParse(t, "server ntp1\nmaxdistance 3\nmaxsamples 0\nfallbackdrift 0 0\n")
	buf.Reset()
	if err := cfg.Render(&buf); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"maxdistance", "maxsamples", "fallbackdrift", "maxdelay", "presend", "asymmetry", "version"} {
		if strings.Contains(buf.String(), absent) {
			t.Errorf("Render shows %s at its default:\n%s", absent, buf.String())
		}
	}
}

// TestValidateTuning: Decode rejects the fields out of the ranges Parse
// guarantees.
func TestValidateTuning(t *testing.T) {
	good, _ := mustParse(t, "server ntp1\n")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"Tuning.maxdistance", func(c *Config) { c.Tuning.MaxDistance = -1 }},
		{"Tuning.maxdrift", func(c *Config) { c.Tuning.MaxDrift = 500001 }},
		{"Tuning.maxupdateskew", func(c *Config) { c.Tuning.MaxUpdateSkew = -1 }},
		{"Tuning.minsamples", func(c *Config) { c.Tuning.MinSamples = -1 }},
		{"Tuning.clockprecision", func(c *Config) { c.Tuning.ClockPrecision = 2 }},
		{"Tuning.FallbackDrift", func(c *Config) { c.Tuning.FallbackDrift = &FallbackDrift{19, 16} }},
		{"Tuning.FallbackDrift", func(c *Config) { c.Tuning.FallbackDrift = &FallbackDrift{0, 16} }},
		{"Tuning.LeapSecTZ", func(c *Config) { c.Tuning.LeapSecTZ = "right/UTC extra" }},
		{"Source.MaxDelay", func(c *Config) { c.Sources[0].MaxDelay = 1001 }},
		{"Source.MaxDelayRatio", func(c *Config) { c.Sources[0].MaxDelayRatio = -1 }},
		{"Source.Asymmetry", func(c *Config) { c.Sources[0].Asymmetry = 0.7 }},
		{"Source.PollTarget", func(c *Config) { c.Sources[0].PollTarget = 0 }},
		{"Source.Presend", func(c *Config) { c.Sources[0].Presend = 50 }},
		{"Source.Version", func(c *Config) { c.Sources[0].Version = 0 }},
		{"Source.MinSamples", func(c *Config) { c.Sources[0].MinSamples = -2 }},
		{"Source.MinStratum", func(c *Config) { c.Sources[0].MinStratum = 17 }},
	}
	for _, tt := range tests {
		c := *good
		c.Sources = append([]Source(nil), good.Sources...)
		tt.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}

// Options and directives that were once parsed but not acted on are
// honoured now, and say nothing.
func TestHonouredSayNothing(t *testing.T) {
	c, warnings := mustParse(t, "server ntp1 xleave xleave")
	if len(warnings) != 0 || len(c.Sources) != 1 || !c.Sources[0].XLeave {
		t.Errorf("server ntp1 xleave: warnings %v, sources %+v; want XLeave and no warning", warnings, c.Sources)
	}
	// Honoured now: no warning.
	for _, text := range []string{"fallbackdrift 16 19", "server ntp1 presend 9", "server ntp1 asymmetry 0.2", "server ntp1 filter 3"} {
		if _, warnings := mustParse(t, text); len(warnings) != 0 {
			t.Errorf("%q: warnings %v", text, warnings)
		}
	}
}
