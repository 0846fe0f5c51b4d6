package ntpserver

import (
	"log/slog"
	"time"

	"github.com/ntpbox/ntpbox/config"
)

// NewFromConfig builds a server from a validated config: access table,
// client log with the configured rate limit, and the state `local`
// implies.
func NewFromConfig(cfg *config.Config, now func() time.Time, log *slog.Logger) *Server {
	if now == nil {
		now = time.Now
	}
	var clients *ClientLog
	if !cfg.NoClientLog {
		var rl *RateLimit
		if cfg.RateLimit != nil {
			rl = &RateLimit{Interval: cfg.RateLimit.Interval, Burst: cfg.RateLimit.Burst, Leak: cfg.RateLimit.Leak, KoD: cfg.RateLimit.KoD}
		}
		clients = NewClientLog(cfg.ClientLogLimit, rl)
	}
	precision := MeasurePrecision(now)
	st := Unsynchronised(precision)
	if cfg.Local != nil {
		st = LocalClock(uint8(cfg.Local.Stratum), precision)
	}
	return NewServer(Options{
		Access:  NewAccess(cfg.Access, nil),
		Clients: clients,
		State:   &st,
		Now:     now,
		Logger:  log,
	})
}
