package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
)

// copyStatement is the COPY that lib/pq turns into a copy-in stream.
var copyStatement = "COPY audit_events (" + strings.Join(copyColumns, ", ") + ") FROM STDIN"

// ClaimClientIDs records client ids of orgID's events and returns those not
// seen before. One INSERT … ON CONFLICT DO NOTHING RETURNING both checks and
// records them: the unique index is probed once per id, where a lookup
// followed by an insert probed it twice. The caller holds the log's lock
// (LockLog), so no other batch can claim an id between the check and
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

// InsertEvents COPYs events into orgID's log (AppendEvents' way for large
// batches), numbered from first, each
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
