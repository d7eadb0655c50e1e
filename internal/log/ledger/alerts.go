package ledger

import (
	"context"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/alerting"
	"github.com/auditgraph/auditgraph/storage"
)

// raiseAlerts matches events numbered from first against the organization's
// enabled rules and queues an alert per firing and integration, in the
// transaction that stores the events, so an alert exists exactly when its
// event does. The caller holds the log's lock, which serializes the
// threshold counters' updates too. A constant number of statements, whatever
// the batch's size.
func raiseAlerts(ctx context.Context, tx *storage.Tx, orgID, first int64, events []audit.Event) error {
	stored, err := tx.EnabledAlertRules(ctx, orgID)
	if err != nil || len(stored) == 0 {
		return err
	}
	rules := make([]alerting.Rule, len(stored))
	for i, r := range stored {
		rules[i] = alerting.Rule(r)
	}
	m := alerting.Match(rules, events)
	if m.Empty() {
		return nil
	}
	counters, err := loadCounters(ctx, tx, m.Keys())
	if err != nil {
		return err
	}
	fired, changed := m.Fire(counters)
	if err := saveCounters(ctx, tx, changed); err != nil {
		return err
	}
	var alerts []storage.NewAlert
	for _, f := range fired {
		seq := first + int64(f.Event)
		for _, id := range f.Rule.Integrations {
			alerts = append(alerts, storage.NewAlert{IntegrationID: id, RuleID: f.Rule.ID, RuleName: f.Rule.Name,
				EventSeq: seq, IdempotencyKey: alerting.IdempotencyKey(orgID, f.Rule.ID, seq)})
		}
	}
	n, err := tx.EnqueueAlerts(ctx, orgID, alerts)
	if err != nil || n == 0 {
		return err
	}
	return tx.NotifyOutbox(ctx)
}

// loadCounters loads the threshold counters of keys that exist.
func loadCounters(ctx context.Context, tx *storage.Tx, keys []alerting.CounterKey) (map[alerting.CounterKey]alerting.Counter, error) {
	stored := map[alerting.CounterKey]alerting.Counter{}
	if len(keys) == 0 {
		return stored, nil
	}
	sk := make([]storage.AlertCounterKey, len(keys))
	for i, k := range keys {
		sk[i] = storage.AlertCounterKey(k)
	}
	cs, err := tx.AlertCounters(ctx, sk)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		k := alerting.CounterKey(c.AlertCounterKey)
		stored[k] = alerting.Counter{CounterKey: k, Hits: c.Hits, Armed: c.Armed}
	}
	return stored, nil
}

// saveCounters writes the counters a batch changed.
func saveCounters(ctx context.Context, tx *storage.Tx, cs []alerting.Counter) error {
	if len(cs) == 0 {
		return nil
	}
	out := make([]storage.AlertCounter, len(cs))
	for i, c := range cs {
		out[i] = storage.AlertCounter{AlertCounterKey: storage.AlertCounterKey(c.CounterKey), Hits: c.Hits, Armed: c.Armed}
	}
	return tx.SaveAlertCounters(ctx, out)
}
