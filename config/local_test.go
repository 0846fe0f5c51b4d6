package config

import "testing"

func TestLocalGood(t *testing.T) {
	def := Local{Stratum: 10, Distance: 1, WaitUnsynced: -1}
	tests := []struct {
		name string
		text string
		want Local
	}{
		{"no options", "local", def},
		{"stratum", "local stratum 3", Local{Stratum: 3, Distance: 1, WaitUnsynced: -1}},
		{"stratum limits", "local stratum 1\nlocal stratum 15", Local{Stratum: 15, Distance: 1, WaitUnsynced: -1}},
		{"man page example", "local stratum 10 orphan distance 0.1",
			Local{Stratum: 10, Orphan: true, Distance: 0.1, WaitUnsynced: -1}},
		{"activate", "local stratum 10 orphan distance 0.1 activate 0.5",
			Local{Stratum: 10, Orphan: true, Distance: 0.1, Activate: 0.5, WaitUnsynced: -1}},
		{"wait options", "local stratum 10 orphan distance 0.0 waitsynced 7200 waitunsynced 300",
			Local{Stratum: 10, Orphan: true, Distance: 0, WaitSynced: 7200, WaitUnsynced: 300}},
		{"negative waitunsynced means default", "local waitunsynced -5", def},
		{"exponent form", "local distance 1e-3", Local{Stratum: 10, Distance: 0.001, WaitUnsynced: -1}},
		{"upper case", "LOCAL STRATUM 5 ORPHAN", Local{Stratum: 5, Orphan: true, Distance: 1, WaitUnsynced: -1}},
		{"last line wins whole", "local stratum 3 orphan\nlocal distance 2", Local{Stratum: 10, Distance: 2, WaitUnsynced: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.text)
			if cfg.Local == nil {
				t.Fatal("Local is nil")
			}
			if *cfg.Local != tt.want {
				t.Errorf("got %+v, want %+v", *cfg.Local, tt.want)
			}
		})
	}
}

func TestLocalAbsent(t *testing.T) {
	cfg, _ := mustParse(t, "server ntp1")
	if cfg.Local != nil {
		t.Errorf("Local = %+v, want nil", cfg.Local)
	}
}

func TestLocalBad(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		contains string
	}{
		{"stratum too big", "local stratum 16", `stratum: expected an integer 1..15, got "16"`},
		{"stratum zero", "local stratum 0", `stratum: expected an integer 1..15, got "0"`},
		{"stratum missing", "local stratum", "stratum: expected an integer 1..15, got nothing"},
		{"stratum not integer", "local stratum 3.5", `got "3.5"`},
		{"negative distance", "local distance -1", `distance: expected a number >= 0, got "-1"`},
		{"distance not a number", "local distance far", `distance: expected a number >= 0, got "far"`},
		{"distance inf", "local distance inf", `got "inf"`},
		{"distance hex float", "local distance 0x1p2", `got "0x1p2"`},
		{"distance overflow", "local distance 1e999", `got "1e999"`},
		{"activate negative", "local activate -0.5", `activate: expected a number >= 0`},
		{"waitsynced missing", "local waitsynced", "waitsynced: expected a number >= 0, got nothing"},
		{"unknown option", "local stratum 3 bogus 1", `expected an option (stratum, orphan, distance, activate, waitsynced, waitunsynced), got "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.line, 1, "local", tt.contains)
		})
	}
}

func TestEffectiveWaitUnsynced(t *testing.T) {
	tests := []struct {
		name string
		l    Local
		want float64
	}{
		{"default, not orphan", Local{WaitUnsynced: -1}, 0},
		{"default, orphan", Local{Orphan: true, WaitUnsynced: -1}, 300},
		{"set", Local{Orphan: true, WaitUnsynced: 60}, 60},
		{"set to zero", Local{Orphan: true, WaitUnsynced: 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.EffectiveWaitUnsynced(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
