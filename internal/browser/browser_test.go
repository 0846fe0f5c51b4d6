package browser

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoadReports loads a page that does everything the status page must
// not: a script that logs an error and throws, an image that is not
// there. Load must report each, so that a test which finds none means it.
func TestLoadReports(t *testing.T) {
	if err := Available(); err != nil {
		// make test and CI install chromium (build/deps.sh): there a
		// missing browser fails the test instead of skipping it.
		if os.Getenv("NTPBOX_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><title>bad</title><p id="here">here</p>
<img src="/missing.png"><script>console.error("oops-console"); throw new Error("oops-thrown")</script>`)
	})
	mux.HandleFunc("/csp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>csp</title><style>p{color:red}</style></head><body><p>csp</p></body></html>`)
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>good</title></head><body><p id="here">good</p></body></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	r, err := Load(ctx, Options{URL: srv.URL + "/bad"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.DOM, `<p id="here">here</p>`) {
		t.Errorf("DOM without the page's text:\n%s", r.DOM)
	}
	if !slices.Contains(r.Requests, srv.URL+"/missing.png") {
		t.Errorf("requests %q lack the image", r.Requests)
	}
	if !strings.Contains(strings.Join(r.Failed, "\n"), "/missing.png: 404") {
		t.Errorf("failed requests %q lack the image's 404", r.Failed)
	}
	console := strings.Join(r.Console, "\n")
	for _, want := range []string{"oops-console", "oops-thrown"} {
		if !strings.Contains(console, want) {
			t.Errorf("console %q lacks %q", r.Console, want)
		}
	}

	// What the page's Content-Security-Policy forbids is reported.
	r, err = Load(ctx, Options{URL: srv.URL + "/csp"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Console, "\n"), "Content Security Policy") {
		t.Errorf("console %q: no word of the refused inline style", r.Console)
	}

	r, err = Load(ctx, Options{URL: srv.URL + "/good", Screenshots: []int{412}, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failed) != 0 || len(r.Console) != 0 {
		t.Errorf("a good page: failed %q, console %q", r.Failed, r.Console)
	}
	if !slices.Equal(r.Requests, []string{srv.URL + "/good"}) {
		t.Errorf("requests %q, want the page only", r.Requests)
	}
	if r.Timing.LoadEnd <= 0 || r.Timing.LoadEnd > time.Minute || r.Timing.TransferSize == 0 {
		t.Errorf("timing %+v", r.Timing)
	}
	if png := r.Screenshots[412]; !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot at 412: not a PNG (%d bytes)", len(png))
	}
}
