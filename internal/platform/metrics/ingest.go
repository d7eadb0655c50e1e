package metrics

import (
	"slices"

	"github.com/auditgraph/auditgraph/audit"
)

// Reasons a batch of audit events is refused for. A line whose value for a
// documented key (audit.Keys) is refused counts under that key instead.
const (
	// RejectBody: the body could not be read (bad gzip, too large, an
	// unsupported Content-Encoding).
	RejectBody = "body"
	// RejectOrg: no organization to report to (unknown, or not named by a
	// caller who belongs to several or none).
	RejectOrg = "org"
	// RejectForbidden: the caller may not report to the organization.
	RejectForbidden = "forbidden"
	// RejectLine: a line is not a valid event, or holds a key that is not
	// documented, or the batch has too many lines.
	RejectLine = "line"
	// RejectCanceled: the client went away before the batch was stored.
	RejectCanceled = "canceled"
	// RejectCapacity: the server held as many batches as its ingest memory
	// allows and found no room for this one in time (503).
	RejectCapacity = "capacity"
	// RejectUnavailable: PostgreSQL could not be reached or went away while
	// the batch was stored (503).
	RejectUnavailable = "unavailable"
	// RejectInternal: the server failed.
	RejectInternal = "internal"
)

// rejectReasons is every value the reason label can take.
var rejectReasons = func() []string {
	rs := []string{RejectBody, RejectOrg, RejectForbidden, RejectLine, RejectCanceled, RejectCapacity, RejectUnavailable, RejectInternal}
	for _, k := range audit.Keys {
		rs = append(rs, string(k))
	}
	return rs
}()

// Ingested counts a stored batch of n received events, action(i) giving the
// i-th one's action; duplicates and dropped are how many of the n were not
// stored because their id was seen before or the deployment does not
// collect them.
func (m *Metrics) Ingested(n int, action func(i int) audit.Action, duplicates, dropped int) {
	counts := map[audit.Action]int{}
	for i := range n {
		counts[action(i)]++
	}
	for a, c := range counts {
		// Ingest refuses actions outside the catalog; this keeps the label
		// bounded should that ever change.
		if a.Valid() {
			m.eventsIngested.WithLabelValues(string(a)).Add(float64(c))
		}
	}
	m.eventsDuplicates.Add(float64(duplicates))
	m.eventsDropped.Add(float64(dropped))
}

// BatchRejected counts a refused batch. reason is one of the Reject values
// or the documented key a line's error names; anything else, such as an
// undocumented key a client sent, counts as RejectLine.
func (m *Metrics) BatchRejected(reason string) {
	if !slices.Contains(rejectReasons, reason) {
		reason = RejectLine
	}
	m.batchesRejected.WithLabelValues(reason).Inc()
}

// IngestMemory records that the batches being read or stored reserved delta
// more bytes (less, when negative).
func (m *Metrics) IngestMemory(delta int64) {
	m.ingestMemory.Add(float64(delta))
}
