package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchActivity exports the request-activity rollup's backlog, read from
// pending at each scrape: how many users were seen in API requests and not
// yet written to the rollup, and the earliest such request. Ingested events
// update the rollup in their own transaction and never wait.
func (m *Metrics) WatchActivity(pending func() (users int, oldest time.Time), now func() time.Time) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditgraph_activity_pending_users",
			Help: "Users seen in authenticated requests whose activity is not yet written to the activity rollup.",
		}, func() float64 { n, _ := pending(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditgraph_activity_rollup_lag_seconds",
			Help: "Age of the oldest request activity not yet written to the activity rollup; 0 when none waits.",
		}, func() float64 {
			if _, oldest := pending(); !oldest.IsZero() {
				return max(now().Sub(oldest).Seconds(), 0)
			}
			return 0
		}),
	)
}
