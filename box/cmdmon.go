package box

import (
	"log/slog"
	"net"
	"sync"

	"github.com/ntpbox/ntpbox/config"
	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/control/cmdmon"
	"github.com/ntpbox/ntpbox/netstate"
	"github.com/ntpbox/ntpbox/ntpserver"
)

// cmdmonRunner is the command port of the NTP service: chronyc -h BOX.
type cmdmonRunner struct {
	srv   *cmdmon.Server
	conns []*net.UDPConn
}

// startCmdmon opens the command port (none with `cmdport 0`) and serves
// it from p. A socket that cannot be opened is logged, as chronyd does,
// and the rest of the box runs on.
func startCmdmon(cfg *config.Config, ns netstate.State, p cmdmon.Provider, log *slog.Logger, wg *sync.WaitGroup) *cmdmonRunner {
	addrs := cmdmon.ListenAddrs(cfg)
	if len(addrs) == 0 {
		return nil
	}
	conns, warns := cmdmon.Listen(addrs)
	for _, w := range warns {
		log.Warn("command port not opened; chronyc -h will not reach it there", "err", w)
	}
	r := &cmdmonRunner{conns: conns, srv: cmdmon.NewServer(p, ntpserver.NewAccess(cfg.CmdAccess, ns.Connected()), log)}
	for _, c := range conns {
		log.Info("command port (chronyc)", "addr", c.LocalAddr())
		wg.Go(func() { r.srv.Serve(c) })
	}
	return r
}

// update follows the connected subnets and a reloaded cmdallow/cmddeny.
func (r *cmdmonRunner) update(cfg *config.Config, ns netstate.State) {
	if r != nil {
		r.srv.SetAccess(ntpserver.NewAccess(cfg.CmdAccess, ns.Connected()))
	}
}

func (r *cmdmonRunner) close() {
	if r != nil {
		for _, c := range r.conns {
			c.Close()
		}
	}
}

// Unresolved is how many configured sources have no address yet
// (chronyc activity).
func (p provider) Unresolved() int { return p.ntp.Unresolved() }

// ServerStats is `serverstats`: the NTP server's counters, with chrony's
// meaning (hits are the requests of allowed clients that were answered
// or rate limited; drops the rate-limited ones; log drops the client
// records evicted to make room), the RATE replies, and interleaved
// mode's replies and timestamps held.
func (p provider) ServerStats() control.ServerStats {
	st := p.ntp.ServerStats()
	limited := st.Dropped[ntpserver.DropRateLimited.String()]
	return control.ServerStats{NTPHits: st.Answered + limited, NTPDrops: limited, LogDrops: st.Evicted, KoDs: st.Kissed,
		InterleavedHits: st.Interleaved, Timestamps: st.Timestamps, TimestampSpan: st.TimestampSpan}
}
