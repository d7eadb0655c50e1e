package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
)

// IngestEvent is an event reported by the platform, with the client's
// optional idempotency key.
type IngestEvent struct {
	audit.Event
	ClientID string
}

// IngestResult says what a batch did.
type IngestResult struct {
	Stored     int
	Duplicates int
	// FirstSeq and LastSeq bound the sequence numbers given to the stored
	// events; both are 0 when nothing was stored.
	FirstSeq, LastSeq int64
}

// stagingColumns are copied into the per-transaction staging table, in the
// order ingestRow produces them.
var stagingColumns = []string{"line", "client_id", "ts", "action", "actor_user_id", "actor_email", "actor_ip",
	"artifact_asset", "artifact_digest", "artifact_qualified_name", "artifact_sequence_asset", "cli_version",
	"entity_asset", "entity_name", "project_asset", "project_name", "report_asset", "report_name", "response_code",
	"user_asset", "user_email"}

// Ingest stores a batch of events in an organization's log in one
// transaction: COPY into a staging table, then one INSERT that skips events
// whose client id was seen before. It also marks the actors active on the
// events' UTC days (events before activeSince do not count). Nothing of the
// batch is stored if any step fails.
func (s *Store) Ingest(ctx context.Context, orgID int64, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	var res IngestResult
	// Reported events may be old: create their months' partitions first, in
	// their own short transactions, rather than under the batch's locks.
	for _, e := range events {
		if !e.Timestamp.IsZero() {
			if err := s.ensurePartition(ctx, monthStart(e.Timestamp)); err != nil {
				return res, err
			}
		}
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		res, err = tx.ingest(ctx, orgID, events, activeSince)
		return err
	})
	return res, err
}

func (tx *Tx) ingest(ctx context.Context, orgID int64, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	var res IngestResult
	if len(events) == 0 {
		return res, nil
	}
	if _, err := tx.q.ExecContext(ctx, `CREATE TEMP TABLE ingest_staging (
		line int NOT NULL, client_id text, ts timestamptz NOT NULL, action text NOT NULL,
		actor_user_id text, actor_email text, actor_ip text, artifact_asset text, artifact_digest text,
		artifact_qualified_name text, artifact_sequence_asset text, cli_version text, entity_asset text,
		entity_name text, project_asset text, project_name text, report_asset text, report_name text,
		response_code smallint, user_asset text, user_email text, seq bigint) ON COMMIT DROP`); err != nil {
		return res, fmt.Errorf("storage: ingest: staging table: %w", err)
	}
	stmt, err := tx.tx.PrepareContext(ctx, pq.CopyIn("ingest_staging", stagingColumns...))
	if err != nil {
		return res, fmt.Errorf("storage: ingest: copy: %w", err)
	}
	row := make([]any, len(stagingColumns))
	for i, e := range events {
		if !e.Action.Valid() {
			stmt.Close()
			return res, fmt.Errorf("storage: ingest: unknown action %q", e.Action)
		}
		ingestRow(row, i+1, e)
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			stmt.Close()
			return res, fmt.Errorf("storage: ingest: copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return res, fmt.Errorf("storage: ingest: copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return res, fmt.Errorf("storage: ingest: copy: %w", err)
	}

	// The row lock on the organization serializes appends to its log, so
	// the sequence numbers below are gap-free and in line order.
	var last int64
	if err := tx.get(ctx, &last, `SELECT last_seq FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
		return res, notFound(err, "storage: ingest into organization %d", orgID)
	}
	// Pick the lines to store (no client id, or the first line of an id not
	// seen before) and number them in line order; the staging table then
	// feeds both the log and the activity rollups, so neither reads the
	// events table back.
	n, err := tx.exec(ctx, `WITH fresh AS (
			INSERT INTO audit_event_ids (org_id, client_id)
			SELECT DISTINCT $1::bigint, client_id FROM ingest_staging WHERE client_id IS NOT NULL
			ON CONFLICT DO NOTHING RETURNING client_id
		), firsts AS (
			SELECT line, client_id, row_number() OVER (PARTITION BY client_id ORDER BY line) AS nth FROM ingest_staging
		), picked AS (
			SELECT line, $2::bigint + row_number() OVER (ORDER BY line) AS seq FROM firsts f
			WHERE f.client_id IS NULL OR (f.nth = 1 AND f.client_id IN (SELECT client_id FROM fresh))
		)
		UPDATE ingest_staging s SET seq = p.seq FROM picked p WHERE s.line = p.line`, orgID, last)
	if err != nil {
		return res, fmt.Errorf("storage: ingest %d events into organization %d: %w", len(events), orgID, err)
	}
	res.Stored = int(n)
	if _, err := tx.exec(ctx, `INSERT INTO audit_events (`+eventColumns+`)
		SELECT $1, seq, ts, action, actor_user_id, actor_email, actor_ip, artifact_asset, artifact_digest,
			artifact_qualified_name, artifact_sequence_asset, cli_version, entity_asset, entity_name,
			project_asset, project_name, report_asset, report_name, response_code, user_asset, user_email
		FROM ingest_staging WHERE seq IS NOT NULL`, orgID); err != nil {
		return res, fmt.Errorf("storage: ingest %d events into organization %d: %w", len(events), orgID, err)
	}
	res.Duplicates = len(events) - res.Stored
	if res.Stored == 0 {
		return res, nil
	}
	res.FirstSeq, res.LastSeq = last+1, last+int64(res.Stored)
	if _, err := tx.exec(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, orgID, res.LastSeq); err != nil {
		return res, fmt.Errorf("storage: ingest: advance sequence: %w", err)
	}
	if err := tx.markEventActivity(ctx, orgID, activeSince); err != nil {
		return res, err
	}
	return res, tx.notifyAppended(ctx, orgID, res.FirstSeq, res.LastSeq)
}

// ingestRow fills row with e's staging values; empty strings become NULL.
func ingestRow(row []any, line int, e IngestEvent) {
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var code any
	if e.ResponseCode != 0 {
		code = e.ResponseCode
	}
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	row[0], row[1], row[2], row[3] = line, str(e.ClientID), ts.UTC(), string(e.Action)
	row[4], row[5], row[6] = str(e.ActorUserID), str(e.ActorEmail), str(e.ActorIP)
	row[7], row[8], row[9], row[10] = str(e.ArtifactAsset), str(e.ArtifactDigest), str(e.ArtifactQualifiedName), str(e.ArtifactSequenceAsset)
	row[11], row[12], row[13] = str(e.CLIVersion), str(e.EntityAsset), str(e.EntityName)
	row[14], row[15], row[16], row[17] = str(e.ProjectAsset), str(e.ProjectName), str(e.ReportAsset), str(e.ReportName)
	row[18], row[19], row[20] = code, str(e.UserAsset), str(e.UserEmail)
}
