package box

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ntpbox/ntpbox/control"
	"github.com/ntpbox/ntpbox/web"
)

// When the services run one per process, the web service reads the NTP
// service's part of the page and of /metrics over its control socket
// (control.CmdMetrics and the report commands), one JSON line each way:
// the NTP process holds CAP_SYS_TIME and runs no HTTP server, not even
// on a unix socket. The DHCP and DNS services serve theirs on a
// PartSocket.

// ntpTimeout bounds one exchange with the NTP service.
const ntpTimeout = 5 * time.Second

// ntpGatherer gathers the NTP service's registry (chrony_* and its
// process's process_* and go_*) from its control socket at path.
type ntpGatherer struct{ path string }

func (g ntpGatherer) Gather() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ntpTimeout)
	defer cancel()
	var text string
	err := control.Request(ctx, g.path, control.CmdMetrics, &text)
	var fams map[string]*dto.MetricFamily
	if err == nil {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err = parser.TextToMetricFamilies(strings.NewReader(text))
	}
	if err != nil {
		// chrony_exporter's chrony_up 0: the NTP service did not answer.
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "chrony_up", Help: "Whether the chrony server is up."}))
		down, _ := reg.Gather()
		return down, fmt.Errorf("ntp service: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}

// ntpStatus is the NTP service's part of the page, from its control
// socket at path.
func ntpStatus(ctx context.Context, path string) (*web.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ntpTimeout)
	defer cancel()
	st := &web.Status{}
	for _, q := range []struct {
		cmd string
		out any
	}{
		{control.CmdTracking, &st.Tracking},
		{control.CmdSources, &st.Sources},
		{control.CmdClients, &st.Clients},
		{control.CmdServerStats, &st.ServerStats},
		{control.CmdHistory, &st.History},
	} {
		if err := control.Request(ctx, path, q.cmd, q.out); err != nil {
			return nil, fmt.Errorf("the ntp service: %w", err)
		}
	}
	return st, nil
}
