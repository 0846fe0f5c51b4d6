package box

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// TestFollowFile: the service reads init's merged config, gets each new
// version, and keeps the last good one when a version does not decode.
func TestFollowFile(t *testing.T) {
	old := followEvery
	followEvery = 10 * time.Millisecond
	t.Cleanup(func() { followEvery = old })
	path := filepath.Join(t.TempDir(), "config.json")
	write := func(text string) {
		cfg, _, err := config.ParseBytes("t", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := config.Encode(cfg)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("local stratum 10\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, updates, err := FollowFile(ctx, path, slog.New(slog.DiscardHandler))
	if err != nil || first.Local.Stratum != 10 {
		t.Fatalf("first: %+v %v", first, err)
	}
	os.WriteFile(path, []byte(`{"Port": 70000}`), 0o644) // out of range: skipped
	time.Sleep(50 * time.Millisecond)
	write("local stratum 12\n")
	select {
	case c := <-updates:
		if c.Local.Stratum != 12 {
			t.Errorf("update: stratum %d, want 12 (the bad version skipped)", c.Local.Stratum)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update")
	}
	if _, _, err := FollowFile(ctx, filepath.Join(t.TempDir(), "none.json"), nil); err == nil {
		t.Error("a missing file is no error")
	}
}
