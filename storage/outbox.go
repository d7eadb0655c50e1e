package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/lib/pq"
)

// OutboxChannel is the NOTIFY channel that announces new alerts in the
// outbox, so that delivery workers need not wait for their next poll.
const OutboxChannel = "alert_outbox"

// NewAlert is an alert raised by an event, for one integration.
type NewAlert struct {
	IntegrationID  int64
	RuleID         int64
	RuleName       string
	EventSeq       int64
	IdempotencyKey string
}

// EnqueueAlerts puts alerts of orgID in the outbox, in one statement, and
// says how many it added: an integration revoked, disconnected or not the
// organization's gets nothing, and a key already queued for its integration
// is not queued again.
func (tx *Tx) EnqueueAlerts(ctx context.Context, orgID int64, alerts []NewAlert) (int64, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	var (
		integ, rule, seq = make(pq.Int64Array, len(alerts)), make(pq.Int64Array, len(alerts)), make(pq.Int64Array, len(alerts))
		names, keys      = make(pq.StringArray, len(alerts)), make(pq.StringArray, len(alerts))
	)
	for i, a := range alerts {
		integ[i], rule[i], seq[i], names[i], keys[i] = a.IntegrationID, a.RuleID, a.EventSeq, a.RuleName, a.IdempotencyKey
	}
	n, err := tx.exec(ctx, `INSERT INTO alert_outbox (org_id, integration_id, rule_id, rule_name, event_seq, idempotency_key)
		SELECT $1, u.integ, u.rule, u.name, u.seq, u.key
		FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS u(integ, rule, name, seq, key)
		JOIN integrations i ON i.id = u.integ AND i.org_id = $1 AND i.status IN ('ok', 'failing')
		ON CONFLICT (integration_id, idempotency_key) DO NOTHING`, orgID, integ, rule, names, seq, keys)
	if err != nil {
		return 0, fmt.Errorf("storage: enqueue %d alerts of organization %d: %w", len(alerts), orgID, err)
	}
	return n, nil
}

// NotifyOutbox announces new alerts on OutboxChannel when the transaction
// commits.
func (tx *Tx) NotifyOutbox(ctx context.Context) error {
	if _, err := tx.exec(ctx, `SELECT pg_notify($1, '')`, OutboxChannel); err != nil {
		return fmt.Errorf("storage: announce alerts: %w", err)
	}
	return nil
}

// AlertCounterKey names the counter of one threshold rule and actor.
type AlertCounterKey struct {
	Rule  int64
	Actor string
}

// AlertCounter is a threshold rule's state for one actor (alerting.Counter
// says what it means).
type AlertCounter struct {
	AlertCounterKey
	Hits  []time.Time
	Armed bool
}

// AlertCounters loads the counters of keys that exist, in one query.
func (tx *Tx) AlertCounters(ctx context.Context, keys []AlertCounterKey) ([]AlertCounter, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rules, actors := make(pq.Int64Array, len(keys)), make(pq.StringArray, len(keys))
	for i, k := range keys {
		rules[i], actors[i] = k.Rule, k.Actor
	}
	var rows []struct {
		Rule  int64         `db:"rule_id"`
		Actor string        `db:"actor"`
		Hits  pq.Int64Array `db:"hits"`
		Armed bool          `db:"armed"`
	}
	err := tx.sel(ctx, &rows, `SELECT c.rule_id, c.actor, c.hits, c.armed FROM alert_counters c
		JOIN unnest($1::bigint[], $2::text[]) AS k(rule_id, actor) ON c.rule_id = k.rule_id AND c.actor = k.actor`, rules, actors)
	if err != nil {
		return nil, fmt.Errorf("storage: load alert counters: %w", err)
	}
	cs := make([]AlertCounter, len(rows))
	for i, r := range rows {
		cs[i] = AlertCounter{AlertCounterKey: AlertCounterKey{Rule: r.Rule, Actor: r.Actor}, Armed: r.Armed}
		for _, h := range r.Hits {
			cs[i].Hits = append(cs[i].Hits, time.UnixMicro(h).UTC())
		}
	}
	return cs, nil
}

// SaveAlertCounters writes counters in one statement. Each one's hits
// travel as one comma-separated text, since PostgreSQL arrays of arrays
// must be rectangular.
func (tx *Tx) SaveAlertCounters(ctx context.Context, cs []AlertCounter) error {
	if len(cs) == 0 {
		return nil
	}
	rules, actors, hits := make(pq.Int64Array, len(cs)), make(pq.StringArray, len(cs)), make(pq.StringArray, len(cs))
	armed := make(pq.BoolArray, len(cs))
	for i, c := range cs {
		ts := make([]string, len(c.Hits))
		for j, h := range c.Hits {
			ts[j] = strconv.FormatInt(h.UnixMicro(), 10)
		}
		rules[i], actors[i], hits[i], armed[i] = c.Rule, c.Actor, strings.Join(ts, ","), c.Armed
	}
	_, err := tx.exec(ctx, `INSERT INTO alert_counters (rule_id, actor, hits, armed)
		SELECT rule_id, actor, string_to_array(hits, ',')::bigint[], armed
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[]) AS u(rule_id, actor, hits, armed)
		ON CONFLICT (rule_id, actor) DO UPDATE SET hits = EXCLUDED.hits, armed = EXCLUDED.armed`, rules, actors, hits, armed)
	if err != nil {
		return fmt.Errorf("storage: save alert counters: %w", err)
	}
	return nil
}

// EnqueueTestAlert puts a test alert for an integration of orgID, named
// ruleName, in the outbox; a failing integration gets one too (a test is how
// an admin checks a repaired receiver), a revoked or disconnected one is
// ErrNotFound.
func (tx *Tx) EnqueueTestAlert(ctx context.Context, orgID, integrationID int64, ruleName string) (entity.OutboxAlert, error) {
	var a entity.OutboxAlert
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return a, fmt.Errorf("storage: test alert key: %w", err)
	}
	err := tx.get(ctx, &a, `INSERT INTO alert_outbox (org_id, integration_id, rule_name, idempotency_key)
		SELECT org_id, id, $3, $4 FROM integrations WHERE id = $2 AND org_id = $1 AND status IN ('ok', 'failing')
		RETURNING `+outboxColumns, orgID, integrationID, ruleName, "auditgraph-test-"+hex.EncodeToString(key))
	if err != nil {
		return a, notFound(err, "storage: test alert for integration %d", integrationID)
	}
	return a, tx.NotifyOutbox(ctx)
}

// EnqueueNotice puts an operational notice (no event, no rule: the server
// itself reports a problem, such as a stalled bucket sync) in the outbox for
// every integration of orgID still in use, and says how many it reached.
func (tx *Tx) EnqueueNotice(ctx context.Context, orgID int64, title string) (int, error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return 0, fmt.Errorf("storage: notice key: %w", err)
	}
	// One key per notice and integration, so a receiver can drop repeats.
	n, err := tx.exec(ctx, `INSERT INTO alert_outbox (org_id, integration_id, rule_name, idempotency_key)
		SELECT org_id, id, $2, $3 || '-' || id FROM integrations WHERE org_id = $1 AND status IN ('ok', 'failing')`,
		orgID, title, "auditgraph-notice-"+hex.EncodeToString(key))
	if err != nil {
		return 0, fmt.Errorf("storage: notice for organization %d: %w", orgID, err)
	}
	if n == 0 {
		return 0, nil
	}
	return int(n), tx.NotifyOutbox(ctx)
}

const outboxColumns = `id, org_id, integration_id, rule_id, rule_name, event_seq, idempotency_key, status,
	attempts, next_attempt_at, last_error, last_attempt_at, delivered_at, created_at`

// Claim is an outbox row a worker holds until its lease ends.
type Claim struct {
	entity.OutboxAlert

	Token string // proves the claim when the outcome is recorded
}

// ClaimAlerts takes up to limit due alerts for lease, counting an attempt
// for each. Rows other workers hold are skipped, not waited for; a row
// whose lease ran out (its worker died) is due again.
func (s *Store) ClaimAlerts(ctx context.Context, lease time.Duration, limit int) ([]Claim, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("storage: claim token: %w", err)
	}
	token := hex.EncodeToString(b)
	var rows []entity.OutboxAlert
	err := s.sel(ctx, &rows, `UPDATE alert_outbox SET claimed_until = now() + $1 * interval '1 microsecond',
			claim_token = $2, attempts = attempts + 1, last_attempt_at = now()
		WHERE id IN (SELECT id FROM alert_outbox
			WHERE status = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+outboxColumns, lease.Microseconds(), token, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: claim alerts: %w", err)
	}
	claims := make([]Claim, len(rows))
	for i, r := range rows {
		claims[i] = Claim{r, token}
	}
	return claims, nil
}

// finishClaim records an outcome of a claim still held, and in the same
// statement what the integration keeps of it (integ: a SET list over the
// integrations row i and the alert's new values o; empty for nothing);
// a claim whose lease ran out and was taken by another worker is
// ErrNotFound, and nothing changes.
func (s *Store) finishClaim(ctx context.Context, c Claim, set, integ string, args ...any) error {
	q := `UPDATE alert_outbox SET claimed_until = NULL, claim_token = NULL, ` + set + `
		WHERE id = $1 AND claim_token = $2 AND status = 'pending' RETURNING integration_id, last_attempt_at, last_error`
	if integ != "" {
		q = `WITH o AS (` + q + `), kept AS (UPDATE integrations i SET ` + integ + ` FROM o WHERE i.id = o.integration_id)
			SELECT count(*) FROM o`
	} else {
		q = `WITH o AS (` + q + `) SELECT count(*) FROM o`
	}
	var n int
	err := s.get(ctx, &n, q, append([]any{c.ID, c.Token}, args...)...)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: record delivery of alert %d", c.ID)
}

// failedAttempt keeps a failed attempt's error as the integration's latest
// one, unless a later attempt (another worker's) recorded one first.
const failedAttempt = `last_error = CASE WHEN i.last_error_at IS NULL OR i.last_error_at <= o.last_attempt_at
		THEN o.last_error ELSE i.last_error END,
	last_error_at = greatest(i.last_error_at, o.last_attempt_at)`

// AlertDelivered records that a claimed alert was delivered. The alert's
// own last error is cleared; the integration's is kept, as history beside
// its new last success.
func (s *Store) AlertDelivered(ctx context.Context, c Claim) error {
	return s.finishClaim(ctx, c, `status = 'delivered', delivered_at = now(), last_error = ''`,
		`last_success_at = greatest(i.last_success_at, now())`)
}

// RetryAlert schedules another attempt of a claimed alert after wait.
func (s *Store) RetryAlert(ctx context.Context, c Claim, wait time.Duration, lastError string) error {
	return s.finishClaim(ctx, c, `next_attempt_at = now() + $3 * interval '1 microsecond', last_error = $4`, failedAttempt,
		wait.Microseconds(), lastError)
}

// AlertFailed gives a claimed alert up (status failed, or dropped when the
// integration is gone). Only a failed one was an attempt whose error the
// integration keeps.
func (s *Store) AlertFailed(ctx context.Context, c Claim, status, lastError string) error {
	integ := ""
	if status == entity.AlertFailed {
		integ = failedAttempt
	}
	return s.finishClaim(ctx, c, `status = $3, last_error = $4`, integ, status, lastError)
}

// DropIntegrationAlerts drops the alerts still pending for an integration
// that is revoked or disconnected, and says how many.
func (s *Store) DropIntegrationAlerts(ctx context.Context, integrationID int64, reason string) (int64, error) {
	n, err := s.exec(ctx, `UPDATE alert_outbox SET status = 'dropped', last_error = $2, claimed_until = NULL, claim_token = NULL
		WHERE integration_id = $1 AND status = 'pending'`, integrationID, reason)
	if err != nil {
		return 0, fmt.Errorf("storage: drop alerts of integration %d: %w", integrationID, err)
	}
	return n, nil
}

// PendingAlerts counts the alerts waiting for delivery.
func (q queries) PendingAlerts(ctx context.Context) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM alert_outbox WHERE status = 'pending'`); err != nil {
		return 0, fmt.Errorf("storage: count pending alerts: %w", err)
	}
	return n, nil
}

// IntegrationDelivery returns the delivery figures of an integration: the
// counts from its alerts still in the outbox, the latest outcomes from the
// integration itself (they outlive the rows and a later success).
func (q queries) IntegrationDelivery(ctx context.Context, integrationID int64) (entity.DeliveryStats, error) {
	var d entity.DeliveryStats
	err := q.get(ctx, &d, `SELECT i.id AS integration_id, i.last_success_at, i.last_error, i.last_error_at,
			count(o.id) FILTER (WHERE o.status = 'delivered') AS delivered,
			count(o.id) FILTER (WHERE o.status = 'pending') AS pending,
			count(o.id) FILTER (WHERE o.status = 'failed') AS failed,
			count(o.id) FILTER (WHERE o.status = 'dropped') AS dropped,
			coalesce(sum(o.attempts), 0) AS attempts
		FROM integrations i LEFT JOIN alert_outbox o ON o.integration_id = i.id
		WHERE i.id = $1 GROUP BY i.id`, integrationID)
	if err != nil {
		return d, notFound(err, "storage: deliveries of integration %d", integrationID)
	}
	return d, nil
}

// IntegrationDeliveries returns up to limit of an integration's alerts with
// ids below beforeID (0: from the newest), newest first.
func (q queries) IntegrationDeliveries(ctx context.Context, integrationID, beforeID int64, limit int) ([]entity.OutboxAlert, error) {
	var rows []entity.OutboxAlert
	err := q.sel(ctx, &rows, `SELECT `+outboxColumns+` FROM alert_outbox WHERE integration_id = $1
		AND ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3`, integrationID, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: deliveries of integration %d: %w", integrationID, err)
	}
	return rows, nil
}

// PruneOutbox deletes the alerts that are finished (delivered, failed or
// dropped) and were created before before, and says how many.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.exec(ctx, `DELETE FROM alert_outbox WHERE status <> 'pending' AND created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("storage: prune alert outbox: %w", err)
	}
	return n, nil
}
