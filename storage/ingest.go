package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/auditgraph/auditgraph/audit"
)

// copyStatement is the COPY that lib/pq turns into a copy-in stream.
var copyStatement = "COPY audit_events (" + strings.Join(copyColumns, ", ") + ") FROM STDIN"

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
