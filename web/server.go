package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits of the HTTP server: it serves a LAN's browsers and one or two
// Prometheus servers, and must not let a slow or hostile client hold the
// box's memory.
const (
	MaxConns          = 64 // connections served at once; more wait in the kernel's backlog
	maxHeaderBytes    = 8 << 10
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	gatherTimeout     = 5 * time.Second
)

// Gather fills a Status for the page. Parts it cannot get stay empty,
// with the reason in Status.Errors.
type Gather func(ctx context.Context) *Status

// Handler serves the status page at / (and /index.html) and the metrics
// of reg at /metrics. Everything is read-only: only GET and HEAD are
// allowed, and nothing changes state.
func Handler(gather Gather, reg prometheus.Gatherer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the box's page is read-only: GET or HEAD only", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/metrics":
			metrics.ServeHTTP(w, r)
		case "/", "/index.html":
			ctx, cancel := context.WithTimeout(r.Context(), gatherTimeout)
			defer cancel()
			st := gather(ctx)
			var b bytes.Buffer
			if err := RenderPage(&b, st); err != nil {
				log.Error("status page", "err", err)
				http.Error(w, "the status page could not be drawn: "+err.Error(), http.StatusInternalServerError)
				return
			}
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
			h.Set("Referrer-Policy", "no-referrer")
			w.Write(b.Bytes())
		default:
			http.NotFound(w, r)
		}
	})
}

// Server serves Handler on a changing set of addresses (the box's LAN
// addresses follow its links).
type Server struct {
	handler http.Handler
	log     *slog.Logger
	sem     chan struct{}

	mu   sync.Mutex
	srvs map[string]*http.Server // by listen address
	wg   sync.WaitGroup
	errs map[string]string // the last error per address, said once
}

// NewServer makes a server for h.
func NewServer(h http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{handler: h, log: log, sem: make(chan struct{}, MaxConns), srvs: map[string]*http.Server{}, errs: map[string]string{}}
}

// Listen makes the server listen on exactly addrs ("host:port"): it
// opens the new ones and closes those no longer wanted. An address that
// cannot be opened is logged (once per reason) and tried again at the
// next call.
func (s *Server) Listen(addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	for a, srv := range s.srvs {
		if !want[a] {
			srv.Close()
			delete(s.srvs, a)
			s.log.Info("http stopped", "addr", a)
		}
	}
	for _, a := range addrs {
		if s.srvs[a] != nil {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			if msg := err.Error(); s.errs[a] != msg {
				s.log.Warn("http: cannot listen; the status page and /metrics are not served there", "addr", a, "err", err)
				s.errs[a] = msg
			}
			continue
		}
		delete(s.errs, a)
		srv := &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readHeaderTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.srvs[a] = srv
		s.log.Info("http: status page and /metrics", "addr", "http://"+ln.Addr().String()+"/")
		l := &limitListener{Listener: ln, sem: s.sem}
		s.wg.Go(func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http", "addr", a, "err", err)
			}
		})
	}
}

// Addrs are the addresses listened on.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for a := range s.srvs {
		out = append(out, a)
	}
	return out
}

// Close stops serving and waits for the serving goroutines.
func (s *Server) Close() {
	s.Listen(nil)
	s.wg.Wait()
}

// limitListener accepts a connection only when fewer than cap(sem) are
// open; the others wait in the listen backlog. net/http's Serve paces its
// own accept errors (EMFILE).
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
