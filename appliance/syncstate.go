package appliance

import (
	"context"
	"fmt"
	"time"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/ntpserver/upstream"
	"github.com/ntpbox/ntpbox/ntpserver/wire"
)

// controlSyncState asks the service, through its control socket, whether
// the box's time is good: what the banner says about it.
func controlSyncState(cfg *config.Config) string {
	path := control.SocketPath(cfg)
	if path == "" {
		return "unknown (no control socket)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var tr upstream.TrackingReport
	if err := control.Request(ctx, path, "tracking", &tr); err != nil {
		return "starting"
	}
	return syncSummary(tr)
}

// syncSummary is one line for the banner from `tracking`.
func syncSummary(tr upstream.TrackingReport) string {
	switch {
	case tr.Stratum == 0 || tr.Leap == "Not synchronised":
		return "not synchronised yet (clients are told so)"
	case tr.RefID == wire.LocalRefID:
		return fmt.Sprintf("serving its own clock at stratum %d (no source usable)", tr.Stratum)
	}
	return fmt.Sprintf("synchronised to %s, stratum %d", tr.RefName, tr.Stratum)
}

// controlSynced asks the service whether it is synchronised to a source
// (not its own clock, not unsynchronised): the clock is then good enough
// to keep as the last known good time.
func controlSynced(cfg *config.Config) bool {
	path := control.SocketPath(cfg)
	if path == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var tr upstream.TrackingReport
	if err := control.Request(ctx, path, "tracking", &tr); err != nil {
		return false
	}
	return tr.Stratum != 0 && tr.Leap != "Not synchronised" && tr.RefID != wire.LocalRefID
}
