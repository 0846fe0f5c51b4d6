package box

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/web"
)

// fakeNTP answers the control socket as the NTP service does, with the
// registry of its process's part.
type fakeNTP struct {
	provider // for Metrics, the method under test
	tracking upstream.TrackingReport
}

func (f fakeNTP) Sources() []upstream.SourceReport {
	return []upstream.SourceReport{{Name: "198.18.0.1", Addr: netip.MustParseAddrPort("198.18.0.1:123"), Mode: "^", State: "*", Stratum: 2, Reach: 0o377}}
}
func (f fakeNTP) Tracking() upstream.TrackingReport { return f.tracking }
func (f fakeNTP) Clients() []control.ClientReport {
	return []control.ClientReport{{Addr: netip.MustParseAddr("198.18.0.10"), NTP: 4}}
}
func (f fakeNTP) ServerStats() control.ServerStats { return control.ServerStats{NTPHits: 4} }
func (f fakeNTP) Unresolved() int                  { return 0 }
func (f fakeNTP) History() []upstream.HistoryPoint {
	return []upstream.HistoryPoint{{Time: time.Unix(1796400000, 0), Offset: time.Microsecond}}
}

// TestNTPPartOverControl: with one service per process, the web service
// gets the NTP service's metrics (its registry: chrony_* and its
// process's, labelled service="ntp") and its part of the page from the
// control socket — the NTP process serves no HTTP. When the NTP service
// does not answer, chrony_up is 0 and the page says why.
func TestNTPPartOverControl(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ntpbox.sock")
	f := fakeNTP{tracking: upstream.TrackingReport{RefName: "198.18.0.1", RefID: 0xC6120001, Stratum: 3, Leap: "Normal", LastOffset: -3 * time.Microsecond}}
	var reg atomic.Pointer[prometheus.Registry]
	f.provider = provider{metrics: &reg}
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); control.Serve(ln, f, nil) }()
	defer func() { ln.Close(); <-done }()

	// Before the part is made (or with http off), metrics is an error
	// that says so.
	if _, err := (ntpGatherer{path: sock}).Gather(); err == nil || !strings.Contains(err.Error(), "http is off") {
		t.Errorf("no registry: %v, want an error saying http is off", err)
	}
	// The NTP process's part, as run() makes it.
	p := newPart([]Service{ServiceNTP}, nil, nil, nil, true)
	p.reg.MustRegister(&web.ChronyCollector{Get: func(context.Context) (*web.NTPData, error) {
		return &web.NTPData{Tracking: f.Tracking(), Sources: f.Sources(), Clients: f.Clients(), ServerStats: f.ServerStats()}, nil
	}})
	reg.Store(p.reg)

	gs := prometheus.Gatherers{ntpGatherer{path: sock}}
	n, err := testutil.GatherAndCount(gs, "chrony_up", "chrony_tracking_stratum", "chrony_sources_state_info", "process_resident_memory_bytes", "go_goroutines")
	if err != nil || n != 5 {
		t.Errorf("metrics over the control socket: %d of 5, %v", n, err)
	}
	fams, err := gs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() == "process_resident_memory_bytes" {
			if l := fam.GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetName() != "service" || l[0].GetValue() != "ntp" {
				t.Errorf("process_resident_memory_bytes labels %v, want service=ntp", l)
			}
		}
	}
	st, err := ntpStatus(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Tracking.Stratum != 3 || len(st.Sources) != 1 || len(st.Clients) != 1 || st.ServerStats.NTPHits != 4 || len(st.History) != 1 {
		t.Errorf("the NTP part of the page: %+v", st)
	}

	// The NTP service gone: chrony_up 0, and the page's error names it.
	ln.Close()
	<-done
	done = make(chan struct{})
	close(done) // for the deferred close
	down, err := ntpGatherer{path: sock}.Gather()
	if err == nil || len(down) != 1 || down[0].GetName() != "chrony_up" || down[0].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("NTP service gone: %v, %v; want chrony_up 0 and the error", down, err)
	}
	if _, err := ntpStatus(context.Background(), sock); err == nil || !strings.Contains(err.Error(), "the ntp service") {
		t.Errorf("NTP service gone: %v, want an error naming it", err)
	}
}
