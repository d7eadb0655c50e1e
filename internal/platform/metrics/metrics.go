// Package metrics defines every Prometheus metric auditgraph exports, in
// this file, and records them on a private registry served at /metrics.
//
// No label carries what a client sent: routes are the patterns the server
// registered, GraphQL operations are named by their top-level schema fields,
// actions come from the audit catalog and rejection reasons from a fixed set.
package metrics

import (
	"database/sql"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditgraph/auditgraph/audit"
)

// durationBuckets spans a health check to a 50,000-event batch or a long
// audit-log download.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics is the server's set of metrics and the registry that serves them.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	graphqlOperations *prometheus.CounterVec
	graphqlDuration   *prometheus.HistogramVec

	eventsIngested   *prometheus.CounterVec
	eventsDuplicates prometheus.Counter
	eventsDropped    prometheus.Counter
	batchesRejected  *prometheus.CounterVec
	ingestMemory     prometheus.Gauge

	deliveries        *prometheus.CounterVec
	outboxPending     prometheus.Gauge
	chainStatus       prometheus.Gauge
	chainLastVerified prometheus.Gauge
	chain             *chainState
	auth              *authMetrics
}

// The database pool figures, read from sql.DBStats at each scrape.
var (
	dbOpenDesc = prometheus.NewDesc("auditgraph_db_pool_open_connections",
		"Connections to PostgreSQL the pool holds, in use or idle.", nil, nil)
	dbInUseDesc = prometheus.NewDesc("auditgraph_db_pool_in_use_connections",
		"Connections to PostgreSQL running a query or transaction.", nil, nil)
	dbIdleDesc = prometheus.NewDesc("auditgraph_db_pool_idle_connections",
		"Connections to PostgreSQL waiting for work.", nil, nil)
	dbMaxOpenDesc = prometheus.NewDesc("auditgraph_db_pool_max_open_connections",
		"The most connections the pool may open; 0 for no limit.", nil, nil)
	dbWaitsDesc = prometheus.NewDesc("auditgraph_db_pool_waits_total",
		"Times a query waited for a connection because all were in use.", nil, nil)
	dbWaitSecondsDesc = prometheus.NewDesc("auditgraph_db_pool_wait_seconds_total",
		"Time queries spent waiting for a connection.", nil, nil)
)

// New returns the metrics on a registry of their own, with the Go runtime,
// process and db's connection pool figures.
func New(db *sql.DB) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" for unknown paths), method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditgraph_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method. WebSocket connections are left out.",
			Buckets: durationBuckets,
		}, []string{"route", "method"}),
		graphqlOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_graphql_operations_total",
			Help: "GraphQL operations, by their top-level fields (\"(invalid)\" when none could be read) and outcome (ok or error).",
		}, []string{"operation", "outcome"}),
		graphqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditgraph_graphql_operation_duration_seconds",
			Help:    "Time to answer a GraphQL query or mutation, by its top-level fields. Subscriptions are left out.",
			Buckets: durationBuckets,
		}, []string{"operation"}),
		eventsIngested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_audit_events_ingested_total",
			Help: "Audit events received in accepted batches, by action; duplicates and dropped events included.",
		}, []string{"action"}),
		eventsDuplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_audit_events_duplicates_total",
			Help: "Received audit events not stored again because their id was stored before.",
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_audit_events_dropped_total",
			Help: "Received audit events the deployment does not collect (multi-tenant exclusions).",
		}),
		batchesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_audit_batches_rejected_total",
			Help: "Audit event batches refused, by reason: body, org, forbidden, line, canceled, capacity (no room in the ingest memory in time), unavailable (PostgreSQL went away), internal, or the documented key whose value was refused.",
		}, []string{"reason"}),
		ingestMemory: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_ingest_memory_bytes",
			Help: "Decompressed bytes reserved by the audit event batches being read or stored, of the --ingest-memory they share.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_notifier_deliveries_total",
			Help: "Attempts to deliver an alert from the outbox, by plugin (slack, webhook) and result: delivered, retry (scheduled again), failed (given up, or the integration's secrets could not be opened), revoked (the receiver said the integration is gone), dropped (not sent: the integration was revoked or disconnected).",
		}, []string{"plugin", "result"}),
		outboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_alert_outbox_pending",
			Help: "Alerts in the outbox waiting for delivery, across all servers, as this server's delivery worker last counted them.",
		}),
		chainStatus: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_chain_verification_status",
			Help: "Outcome of the audit-log hash chain verifications: 1 every organization's chain intact, 0 something invalid or missing found in one, -1 none verified yet.",
		}),
		chainLastVerified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditgraph_chain_last_verified_timestamp_seconds",
			Help: "When an organization's audit-log hash chain was last verified (Unix time); 0 for never.",
		}),
		chain: &chainState{intact: map[int64]bool{}},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		poolCollector{db},
		m.httpRequests, m.httpDuration,
		m.graphqlOperations, m.graphqlDuration,
		m.eventsIngested, m.eventsDuplicates, m.eventsDropped, m.batchesRejected, m.ingestMemory,
		m.deliveries, m.outboxPending,
		m.chainStatus, m.chainLastVerified,
	)
	m.auth = newAuthMetrics(m.reg)
	m.chainStatus.Set(-1)
	// Every action and reason starts at zero, so that the first event of a
	// kind shows as an increase.
	for _, a := range audit.Actions() {
		m.eventsIngested.WithLabelValues(string(a))
	}
	for _, r := range rejectReasons {
		m.batchesRejected.WithLabelValues(r)
	}
	for _, p := range deliveryPlugins {
		for _, r := range deliveryResults {
			m.deliveries.WithLabelValues(p, r)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
