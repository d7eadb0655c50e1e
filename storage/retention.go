package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// ExpirePartitions drops every monthly audit_events partition that lies
// entirely before cutoff, through the database's one privileged path
// (audit_events_expire), and returns their names. With requireSynced a
// partition holding an event not yet in the bucket is kept. Rows are never
// deleted: the append-only triggers stay in force for everything else.
func (s *Store) ExpirePartitions(ctx context.Context, cutoff time.Time, requireSynced bool) ([]string, error) {
	var names pq.StringArray
	err := s.get(ctx, &names, `SELECT coalesce(array_agg(p), '{}') FROM audit_events_expire($1, $2) AS p`, cutoff, requireSynced)
	if err != nil {
		return nil, fmt.Errorf("storage: expire audit partitions before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	for _, n := range names {
		var y, m int
		if _, err := fmt.Sscanf(n, "audit_events_%d_%d", &y, &m); err == nil {
			s.parts.forget(time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC))
		}
	}
	// Every run prunes, not only one that dropped something: a prune that
	// failed is then retried with the next run.
	if err := s.pruneEventActors(ctx); err != nil {
		return names, err
	}
	return names, nil
}

// pruneEventActors forgets the actor pairs (audit_event_actors: a user id
// and an email that came together) that no event left carries, so that
// retention leaves no email behind once the events that held it are gone.
// Each organization's pairs are pruned holding its log's lock, taken in a
// statement before the delete: an append that found its pair already
// recorded (and so wrote none) has then either committed, and its event is
// seen, or not begun.
func (s *Store) pruneEventActors(ctx context.Context) error {
	var orgs []int64
	if err := s.sel(ctx, &orgs, `SELECT DISTINCT org_id FROM audit_event_actors`); err != nil {
		return fmt.Errorf("storage: organizations with actor pairs: %w", err)
	}
	for _, org := range orgs {
		err := s.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.q.ExecContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
				return err
			}
			_, err := tx.q.ExecContext(ctx, `DELETE FROM audit_event_actors a WHERE a.org_id = $1 AND NOT EXISTS (
				SELECT 1 FROM audit_events e WHERE e.org_id = a.org_id AND `+actorKey+` = a.email AND e.actor_user_id = a.user_id)`, org)
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: prune the actor pairs of organization %d: %w", org, err)
		}
	}
	return nil
}

func (p *partitions) forget(month time.Time) {
	p.mu.Lock()
	delete(p.have, month)
	p.mu.Unlock()
}

// RetentionRecord is one partition retention dropped.
type RetentionRecord struct {
	Partition string
	RangeFrom time.Time
	RangeTo   time.Time
	Cutoff    time.Time
	Events    int64
	// OrgRanges holds each organization's first and last sequence number
	// in the partition, by organization id.
	OrgRanges map[int64][2]int64
	DroppedAt time.Time
	DroppedBy string
}

// RetentionLog returns every partition retention dropped, oldest first.
func (s *Store) RetentionLog(ctx context.Context) ([]RetentionRecord, error) {
	var rows []struct {
		Partition string    `db:"partition"`
		RangeFrom time.Time `db:"range_from"`
		RangeTo   time.Time `db:"range_to"`
		Cutoff    time.Time `db:"cutoff"`
		Events    int64     `db:"events"`
		OrgRanges []byte    `db:"org_ranges"`
		DroppedAt time.Time `db:"dropped_at"`
		DroppedBy string    `db:"dropped_by"`
	}
	err := s.sel(ctx, &rows, `SELECT partition, range_from, range_to, cutoff, events, org_ranges, dropped_at, dropped_by
		FROM retention_log ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("storage: retention log: %w", err)
	}
	out := make([]RetentionRecord, len(rows))
	for i, r := range rows {
		out[i] = RetentionRecord{Partition: r.Partition, RangeFrom: r.RangeFrom.UTC(), RangeTo: r.RangeTo.UTC(),
			Cutoff: r.Cutoff.UTC(), Events: r.Events, DroppedAt: r.DroppedAt, DroppedBy: r.DroppedBy}
		if err := json.Unmarshal(r.OrgRanges, &out[i].OrgRanges); err != nil {
			return nil, fmt.Errorf("storage: retention log %s: %w", r.Partition, err)
		}
	}
	return out, nil
}
