package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchReplica exports the read standby's replication lag
// (serve --read-database-url), read from status at each scrape: the lag its
// last check measured, and whether reads go to it. A server without a
// standby does not call it, and exports neither.
func (m *Metrics) WatchReplica(status func() (lag time.Duration, used bool)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditgraph_replica_lag_seconds",
			Help: "How far the read standby (--read-database-url) is behind the primary, as its last check (every second) measured: 0 when it has replayed all it received.",
		}, func() float64 { lag, _ := status(); return lag.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "auditgraph_replica_used",
			Help: "1 while reads that may go to the read standby do, 0 while it is bypassed (unreachable, or lagging past --max-replica-lag).",
		}, func() float64 {
			if _, used := status(); used {
				return 1
			}
			return 0
		}),
	)
}
