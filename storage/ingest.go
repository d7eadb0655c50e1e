package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
)

// copyColumns are copied into audit_events, in the order copyRow fills them,
// then the chain hash.
var copyColumns = []string{"org_id", "seq", "ts", "action", "actor_user_id", "actor_email", "actor_ip",
	"artifact_asset", "artifact_digest", "artifact_qualified_name", "artifact_sequence_asset", "cli_version",
	"entity_asset", "entity_name", "project_asset", "project_name", "report_asset", "report_name", "response_code",
	"user_asset", "user_email", "hash"}

// copyStatement is the COPY that lib/pq turns into a copy-in stream.
var copyStatement = "COPY audit_events (" + strings.Join(copyColumns, ", ") + ") FROM STDIN"

// ClaimClientIDs records client ids of orgID's events and returns those not
// seen before. One INSERT … ON CONFLICT DO NOTHING RETURNING both checks and
// records them: the unique index is probed once per id, where a lookup
// followed by an insert probed it twice. The caller holds the log's lock
// (LockLogHead), so no other batch can claim an id between the check and
// the write.
func (tx *Tx) ClaimClientIDs(ctx context.Context, orgID int64, ids []string) (map[string]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var claimed []string
	err := tx.sel(ctx, &claimed, `INSERT INTO audit_event_ids (org_id, client_id) SELECT $1::bigint, unnest($2::text[])
		ON CONFLICT DO NOTHING RETURNING client_id`, orgID, pq.StringArray(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: record client ids of organization %d: %w", orgID, err)
	}
	fresh := make(map[string]bool, len(claimed))
	for _, id := range claimed {
		fresh[id] = true
	}
	return fresh, nil
}

// InsertEvents COPYs events into orgID's log, numbered from first, each
// with its chain hash. Every event must have a timestamp at the stored
// precision and a partition to go to (EnsureEventPartitions).
func (tx *Tx) InsertEvents(ctx context.Context, orgID, first int64, events []audit.Event, hashes [][]byte) error {
	fail := func(err error) error {
		return fmt.Errorf("storage: insert %d audit events into organization %d: %w", len(events), orgID, err)
	}
	stmt, err := tx.tx.PrepareContext(ctx, copyStatement)
	if err != nil {
		return fail(err)
	}
	row := make([]any, len(copyColumns))
	for i := range events {
		copyRow(row, orgID, first+int64(i), &events[i])
		row[len(row)-1] = hashes[i]
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			stmt.Close()
			return fail(err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fail(err)
	}
	if err := stmt.Close(); err != nil {
		return fail(err)
	}
	return nil
}

// copyRow fills row with e's column values; empty strings become NULL.
func copyRow(row []any, orgID, seq int64, e *audit.Event) {
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
	row[0], row[1], row[2], row[3] = orgID, seq, e.Timestamp.UTC(), string(e.Action)
	row[4], row[5], row[6] = str(e.ActorUserID), str(e.ActorEmail), str(e.ActorIP)
	row[7], row[8], row[9], row[10] = str(e.ArtifactAsset), str(e.ArtifactDigest), str(e.ArtifactQualifiedName), str(e.ArtifactSequenceAsset)
	row[11], row[12], row[13] = str(e.CLIVersion), str(e.EntityAsset), str(e.EntityName)
	row[14], row[15], row[16], row[17] = str(e.ProjectAsset), str(e.ProjectName), str(e.ReportAsset), str(e.ReportName)
	row[18], row[19], row[20] = code, str(e.UserAsset), str(e.UserEmail)
}
