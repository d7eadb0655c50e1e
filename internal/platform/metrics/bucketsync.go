package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BucketSync holds the bucket sync's metrics. The lag figures are read from
// the database, so every server reports the same values whichever one syncs.
type BucketSync struct {
	lastSuccess prometheus.Gauge
	lagEvents   prometheus.Gauge
	lagSeconds  prometheus.Gauge
	stalled     prometheus.Gauge
	failures    prometheus.Counter
	events      prometheus.Counter
	objects     prometheus.Counter
}

// NewBucketSync registers the bucket sync's metrics; call it once, when the
// sync is configured.
func (m *Metrics) NewBucketSync() *BucketSync {
	b := &BucketSync{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_bucket_sync_last_success_timestamp_seconds",
			Help: "When the last bucket sync run that exported every organization started (Unix time); 0 if none has.",
		}),
		lagEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_bucket_sync_lag_events",
			Help: "Stored audit events not yet in the bucket.",
		}),
		lagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_bucket_sync_lag_seconds",
			Help: "Age of the oldest stored audit event not yet in the bucket; 0 when the bucket is current.",
		}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_bucket_sync_stalled",
			Help: "1 while the bucket sync has missed two sync intervals in a row, else 0.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_bucket_sync_failures_total",
			Help: "Bucket sync runs of this server that failed.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_bucket_sync_events_total",
			Help: "Audit events this server exported to the bucket.",
		}),
		objects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_bucket_sync_objects_total",
			Help: "Event objects this server uploaded to the bucket.",
		}),
	}
	m.reg.MustRegister(b.lastSuccess, b.lagEvents, b.lagSeconds, b.stalled, b.failures, b.events, b.objects)
	return b
}

// Failed counts a failed sync run.
func (b *BucketSync) Failed() { b.failures.Inc() }

// Uploaded counts an uploaded object of n events.
func (b *BucketSync) Uploaded(n int64) {
	b.objects.Inc()
	b.events.Add(float64(n))
}

// SetLag records the sync's position: the start of the last complete run
// (zero if none), how many events wait, since when the oldest has waited
// (zero if none), and whether two intervals have been missed.
func (b *BucketSync) SetLag(now, lastSuccess time.Time, events int64, oldest time.Time, stalled bool) {
	if !lastSuccess.IsZero() {
		b.lastSuccess.Set(float64(lastSuccess.UnixNano()) / 1e9)
	}
	b.lagEvents.Set(float64(events))
	lag := 0.0
	if !oldest.IsZero() && events > 0 {
		lag = max(now.Sub(oldest).Seconds(), 0)
	}
	b.lagSeconds.Set(lag)
	if stalled {
		b.stalled.Set(1)
	} else {
		b.stalled.Set(0)
	}
}
