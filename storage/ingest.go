package storage

import (
	"context"
	"fmt"
	"strings"
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

// copyStatement is the COPY that lib/pq turns into a copy-in stream.
var copyStatement = "COPY audit_events (" + strings.Join(copyColumns, ", ") + ") FROM STDIN"

// Ingest stores a batch of events in an organization's log in one
// transaction. Holding the organization's row lock, it looks the batch's
// client ids up, numbers the events not seen before, records their ids and
// COPYs them straight into the log. It also marks the actors active on the
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
	// The row lock also makes the id check below race-free.
	head, err := tx.lockHead(ctx, orgID)
	if err != nil {
		return res, err
	}
	fresh, err := tx.claimClientIDs(ctx, orgID, events)
	if err != nil {
		return res, err
	}
	keep := make([]IngestEvent, 0, len(events))
	for _, e := range events {
		if !e.Action.Valid() {
			return res, fmt.Errorf("storage: ingest: unknown action %q", e.Action)
		}
		if e.ClientID != "" {
			if !fresh[e.ClientID] {
				continue
			}
			delete(fresh, e.ClientID) // a repeat later in the batch is a duplicate too
		}
		if e.Timestamp.IsZero() {
			e.Timestamp = time.Now()
		}
		keep = append(keep, e)
	}
	res.Stored, res.Duplicates = len(keep), len(events)-len(keep)
	if len(keep) == 0 {
		return res, nil
	}
	newHead, err := tx.copyEvents(ctx, orgID, head, keep)
	if err != nil {
		return res, err
	}
	if err := tx.advanceHead(ctx, orgID, newHead); err != nil {
		return res, err
	}
	res.FirstSeq, res.LastSeq = head.Seq+1, newHead.Seq
	if err := tx.markEventActivity(ctx, orgID, keep, activeSince); err != nil {
		return res, err
	}
	if err := tx.alertIngested(ctx, orgID, res.FirstSeq, keep); err != nil {
		return res, err
	}
	return res, tx.notifyAppended(ctx, orgID, res.FirstSeq, res.LastSeq)
}

// claimClientIDs records the batch's client ids and returns those not seen
// before. One INSERT … ON CONFLICT DO NOTHING RETURNING both checks and
// records them: the unique index is probed once per id, where a lookup
// followed by an insert probed it twice. The caller holds the organization's
// lock, so no other batch can claim an id between the check and the COPY.
func (tx *Tx) claimClientIDs(ctx context.Context, orgID int64, events []IngestEvent) (map[string]bool, error) {
	var ids pq.StringArray
	for _, e := range events {
		if e.ClientID != "" {
			ids = append(ids, e.ClientID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var claimed []string
	err := tx.sel(ctx, &claimed, `INSERT INTO audit_event_ids (org_id, client_id) SELECT $1::bigint, unnest($2::text[])
		ON CONFLICT DO NOTHING RETURNING client_id`, orgID, ids)
	if err != nil {
		return nil, fmt.Errorf("storage: ingest: record client ids: %w", err)
	}
	fresh := make(map[string]bool, len(claimed))
	for _, id := range claimed {
		fresh[id] = true
	}
	return fresh, nil
}

// copyEvents COPYs events into the log after head, chained onto it, and
// returns the log's new head.
func (tx *Tx) copyEvents(ctx context.Context, orgID int64, head logHead, events []IngestEvent) (logHead, error) {
	hashes, newHead := hashOnto(head, len(events), func(i int) *audit.Event { return &events[i].Event })
	first := head.Seq + 1
	stmt, err := tx.tx.PrepareContext(ctx, copyStatement)
	if err != nil {
		return head, fmt.Errorf("storage: ingest: copy: %w", err)
	}
	row := make([]any, len(copyColumns))
	for i, e := range events {
		copyRow(row, orgID, first+int64(i), &e.Event)
		row[len(row)-1] = hashes.at(i)
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			stmt.Close()
			return head, fmt.Errorf("storage: ingest: copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return head, fmt.Errorf("storage: ingest: copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return head, fmt.Errorf("storage: ingest: copy: %w", err)
	}
	return newHead, nil
}
