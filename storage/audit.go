package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// StoredEvent is an audit event as kept: the documented fields plus the
// organization and its per-organization sequence number.
type StoredEvent struct {
	audit.Event
	OrgID int64
	Seq   int64
}

// OrgEvents returns up to limit events of an organization with sequence
// number > afterSeq, in sequence order.
func (q queries) OrgEvents(ctx context.Context, orgID, afterSeq int64, limit int) ([]StoredEvent, error) {
	es, err := q.events(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE org_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, orgID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: events of organization %d: %w", orgID, err)
	}
	return es, nil
}

// partitions remembers the months whose audit_events partition is known to
// exist, so that appends check the catalog only for a month not seen yet.
type partitions struct {
	mu   sync.Mutex
	have map[time.Time]bool
}

func (p *partitions) known(month time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.have[month]
}

func (p *partitions) add(month time.Time) {
	p.mu.Lock()
	p.have[month] = true
	p.mu.Unlock()
}

// EnsurePartitions creates the monthly audit_events partitions covering
// [from, to], so that appends never wait for one to be created.
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	for m := monthStart(from); !m.After(to); m = m.AddDate(0, 1, 0) {
		if err := s.ensurePartition(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ensurePartition(ctx context.Context, month time.Time) error {
	if s.parts.known(month) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `SELECT audit_events_ensure_partition($1)`, month); err != nil {
		return fmt.Errorf("storage: create audit partition for %s: %w", month.Format("2006-01"), err)
	}
	s.parts.add(month)
	return nil
}

// EnsureEventPartitions makes sure the audit_events partitions the events
// go to exist, creating a missing one in the transaction (and remembering it
// only once it is known to have committed: see Store.EnsureEventPartitions).
// A partition already known costs no statement.
func (tx *Tx) EnsureEventPartitions(ctx context.Context, events []audit.Event) error {
	var done []time.Time
	for _, e := range events {
		m := monthStart(e.Timestamp)
		if tx.parts.known(m) || slices.Contains(done, m) {
			continue
		}
		if _, err := tx.q.ExecContext(ctx, `SELECT audit_events_ensure_partition($1)`, m); err != nil {
			return fmt.Errorf("storage: create audit partition for %s: %w", m.Format("2006-01"), err)
		}
		done = append(done, m)
	}
	return nil
}

// EnsureEventPartitions makes sure the audit_events partitions the events go
// to exist, creating each missing one in a short transaction of its own.
func (s *Store) EnsureEventPartitions(ctx context.Context, events []audit.Event) error {
	for _, e := range events {
		if err := s.ensurePartition(ctx, monthStart(e.Timestamp)); err != nil {
			return err
		}
	}
	return nil
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
