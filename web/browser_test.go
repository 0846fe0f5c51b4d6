package web

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ntpbox/ntpbox/internal/browser"
)

var screenshots = flag.String("screenshots", "", "save the page's screenshots in `dir` (status-page-WIDTH.png)")

// TestPageInChromium loads the page of a full Status in a real headless
// Chromium: the sources table and the three plots are there, the page
// made one request (itself: no favicon, no font, no script) and the
// console is silent.
func TestPageInChromium(t *testing.T) {
	if err := browser.Available(); err != nil {
		// make test and CI install chromium (build/deps.sh): there a
		// missing browser fails the test instead of skipping it.
		if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s := fullStatus(1440, 300)
	var mu sync.Mutex
	var paths []string
	// The box's own handler, with its headers (the Content-Security-Policy
	// among them: a violation would be on the console).
	h := Handler(func(context.Context) *Status { return s }, prometheus.NewRegistry(), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := browser.Load(ctx, browser.Options{URL: srv.URL + "/", Width: 412, Screenshots: []int{412, 1280}})
	if err != nil {
		t.Fatal(err)
	}
	if err := browser.CheckStatusPage(r, srv.URL+"/"); err != nil {
		t.Error(err)
	}
	mu.Lock()
	if !slices.Equal(paths, []string{"/"}) {
		t.Errorf("the server was asked for %q, want / only", paths)
	}
	mu.Unlock()
	t.Logf("load: %+v", r.Timing)
	if *screenshots != "" {
		for w, png := range r.Screenshots {
			p := filepath.Join(*screenshots, "status-page-"+strconv.Itoa(w)+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
}
