package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Why an authentication failed, as auditgraph_auth_failures_total counts it.
const (
	AuthMissing     = "missing"        // no credentials
	AuthMalformed   = "malformed"      // an Authorization header that cannot be read
	AuthUnknownKey  = "unknown_key"    // no such API key (or an empty one)
	AuthWrongUser   = "wrong_username" // a key presented under another user's name
	AuthDeactivated = "deactivated"    // the key of a deactivated user
	AuthSession     = "session"        // a session cookie naming no live session
)

var authReasons = []string{AuthMissing, AuthMalformed, AuthUnknownKey, AuthWrongUser, AuthDeactivated, AuthSession}

// authMetrics counts refused credentials and the answers slowed down for them.
type authMetrics struct {
	failures  *prometheus.CounterVec
	throttled prometheus.Counter
}

func newAuthMetrics(reg *prometheus.Registry) *authMetrics {
	a := &authMetrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditgraph_auth_failures_total",
			Help: "Refused credentials (HTTP requests and WebSocket connection_init), by reason: missing, malformed, unknown_key, wrong_username, deactivated.",
		}, []string{"reason"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditgraph_auth_throttled_total",
			Help: "Refused credentials answered with 429 (or WebSocket close 4429) because their source address failed too often.",
		}),
	}
	reg.MustRegister(a.failures, a.throttled)
	for _, r := range authReasons {
		a.failures.WithLabelValues(r)
	}
	return a
}

// AuthFailure counts refused credentials with one of the Auth reasons, and
// whether the answer was slowed down (429).
func (m *Metrics) AuthFailure(reason string, throttled bool) {
	if !slices.Contains(authReasons, reason) {
		reason = AuthMalformed
	}
	m.auth.failures.WithLabelValues(reason).Inc()
	if throttled {
		m.auth.throttled.Inc()
	}
}
