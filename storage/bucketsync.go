package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"
)

// SyncOrg is how far an organization's log has been exported to the bucket.
type SyncOrg struct {
	OrgID int64  `db:"id"`
	Name  string `db:"name"`
	// LastSeq is the organization's last committed sequence number.
	LastSeq int64 `db:"last_seq"`
	// SyncedSeq is the high-water mark: every event up to it is in the bucket.
	SyncedSeq int64 `db:"synced_seq"`
	// Plan is the upload planned but not yet confirmed, nil when none is.
	Plan *SyncPlan
}

// SyncPlan is one object to upload: an organization's events First..Last
// under the object name Object.
type SyncPlan struct {
	First, Last int64
	Object      string
}

// SyncOrgs returns every organization's sync position, by id.
func (s *Store) SyncOrgs(ctx context.Context) ([]SyncOrg, error) {
	var rows []struct {
		SyncOrg
		PlanFirst  sql.NullInt64  `db:"plan_first"`
		PlanLast   sql.NullInt64  `db:"plan_last"`
		PlanObject sql.NullString `db:"plan_object"`
	}
	err := s.sel(ctx, &rows, `SELECT o.id, o.name, o.last_seq, coalesce(b.synced_seq, 0) AS synced_seq,
			b.plan_first, b.plan_last, b.plan_object
		FROM organizations o LEFT JOIN bucket_sync_orgs b ON b.org_id = o.id ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("storage: sync positions: %w", err)
	}
	orgs := make([]SyncOrg, len(rows))
	for i, r := range rows {
		orgs[i] = r.SyncOrg
		if r.PlanFirst.Valid {
			orgs[i].Plan = &SyncPlan{First: r.PlanFirst.Int64, Last: r.PlanLast.Int64, Object: r.PlanObject.String}
		}
	}
	return orgs, nil
}

// FirstEventAfter returns the sequence number and time of an organization's
// first event with sequence number > afterSeq, or ErrNotFound.
func (s *Store) FirstEventAfter(ctx context.Context, orgID, afterSeq int64) (int64, time.Time, error) {
	var r struct {
		Seq int64     `db:"seq"`
		TS  time.Time `db:"ts"`
	}
	err := s.get(ctx, &r, `SELECT seq, ts FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT 1`, orgID, afterSeq)
	return r.Seq, r.TS.UTC(), notFound(err, "storage: first event of organization %d after %d", orgID, afterSeq)
}

// ContiguousEnd returns the last sequence number of the run without gaps
// that starts at an organization's event first and ends at last at most.
// Sequence numbers only have gaps where retention dropped a partition.
func (s *Store) ContiguousEnd(ctx context.Context, orgID, first, last int64) (int64, error) {
	var end int64
	err := s.get(ctx, &end, `SELECT coalesce(min(seq) FILTER (WHERE next IS DISTINCT FROM seq + 1), $2 - 1)
		FROM (SELECT seq, lead(seq) OVER (ORDER BY seq) AS next FROM audit_events
			WHERE org_id = $1 AND seq BETWEEN $2 AND $3) s`, orgID, first, last)
	if err != nil {
		return 0, fmt.Errorf("storage: events of organization %d from %d: %w", orgID, first, err)
	}
	return end, nil
}

// PlanSync records the next upload of an organization, which must start past
// its high-water mark, and must not have a plan already. It commits before
// the upload starts, so that a crashed upload is redone exactly.
func (s *Store) PlanSync(ctx context.Context, orgID int64, p SyncPlan) error {
	n, err := s.exec(ctx, `INSERT INTO bucket_sync_orgs (org_id, plan_first, plan_last, plan_object) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id) DO UPDATE SET plan_first = $2, plan_last = $3, plan_object = $4
		WHERE bucket_sync_orgs.plan_first IS NULL AND bucket_sync_orgs.synced_seq < $2`, orgID, p.First, p.Last, p.Object)
	if err != nil {
		return fmt.Errorf("storage: plan sync of organization %d: %w", orgID, classify(err))
	}
	if n != 1 {
		return fmt.Errorf("storage: plan sync of organization %d from %d: %w: another plan or a later mark", orgID, p.First, ErrConflict)
	}
	return nil
}

// CommitSync records an uploaded object (and the checkpoint uploaded with it,
// "" if none), moves the high-water mark to its last event and clears the
// plan, in one transaction. It fails with ErrConflict unless p is the
// organization's current plan.
func (s *Store) CommitSync(ctx context.Context, orgID int64, p SyncPlan, checkpoint string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		n, err := tx.exec(ctx, `UPDATE bucket_sync_orgs SET synced_seq = plan_last, plan_first = NULL, plan_last = NULL, plan_object = NULL
			WHERE org_id = $1 AND plan_first = $2 AND plan_last = $3 AND plan_object = $4`, orgID, p.First, p.Last, p.Object)
		if err != nil {
			return fmt.Errorf("storage: commit sync of organization %d: %w", orgID, err)
		}
		if n != 1 {
			return fmt.Errorf("storage: commit sync of organization %d up to %d: %w: not the current plan", orgID, p.Last, ErrConflict)
		}
		_, err = tx.exec(ctx, `INSERT INTO bucket_sync_objects (org_id, first_seq, last_seq, object, checkpoint)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''))`, orgID, p.First, p.Last, p.Object, checkpoint)
		if err != nil {
			return fmt.Errorf("storage: record synced object %s: %w", p.Object, classify(err))
		}
		return nil
	})
}

// StreamOrgEvents calls fn with each event of an organization with sequence
// number first..last, in sequence order, reading through a server-side
// cursor so that memory stays constant however many there are.
func (s *Store) StreamOrgEvents(ctx context.Context, orgID, first, last int64, fn func(StoredEvent) error) error {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("storage: stream events of organization %d: %w", orgID, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `DECLARE sync_stream NO SCROLL CURSOR FOR SELECT `+eventColumns+`
		FROM audit_events WHERE org_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`, orgID, first, last)
	if err != nil {
		return fmt.Errorf("storage: stream events of organization %d: %w", orgID, err)
	}
	sc := newEventScanner()
	for {
		rows, err := tx.QueryContext(ctx, `FETCH `+strconv.Itoa(streamBatch)+` FROM sync_stream`)
		if err != nil {
			return fmt.Errorf("storage: stream events of organization %d: %w", orgID, err)
		}
		n := 0
		for rows.Next() {
			e, err := sc.scan(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("storage: stream events of organization %d: %w", orgID, err)
			}
			n++
			if err := fn(e); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: stream events of organization %d: %w", orgID, err)
		}
		rows.Close()
		if n < streamBatch {
			return nil
		}
	}
}

// SyncSucceeded records that a sync run completed with every organization
// exported.
func (s *Store) SyncSucceeded(ctx context.Context, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE bucket_sync_status SET last_success = greatest(last_success, $1)`, at); err != nil {
		return fmt.Errorf("storage: record sync success: %w", err)
	}
	return nil
}

// SyncLag is how far the bucket is behind the database.
type SyncLag struct {
	// LastSuccess is when a sync run last completed; zero if never.
	LastSuccess time.Time
	// Events is how many events are not in the bucket yet.
	Events int64
	// Oldest is when the oldest of them was stored; zero if none.
	Oldest time.Time
}

// BucketSyncLag returns how far the bucket is behind.
func (s *Store) BucketSyncLag(ctx context.Context) (SyncLag, error) {
	var r struct {
		LastSuccess sql.NullTime `db:"last_success"`
		Events      int64        `db:"events"`
		Oldest      sql.NullTime `db:"oldest"`
	}
	// Sequence numbers have no gaps, so the oldest unexported event of an
	// organization is the one right after its high-water mark.
	err := s.get(ctx, &r, `SELECT (SELECT last_success FROM bucket_sync_status) AS last_success,
			coalesce(sum(o.last_seq - coalesce(b.synced_seq, 0)), 0)::bigint AS events,
			min(e.received_at) AS oldest
		FROM organizations o LEFT JOIN bucket_sync_orgs b ON b.org_id = o.id
		LEFT JOIN LATERAL (SELECT received_at FROM audit_events
			WHERE org_id = o.id AND seq > coalesce(b.synced_seq, 0) ORDER BY seq LIMIT 1) e ON true`)
	if err != nil {
		return SyncLag{}, fmt.Errorf("storage: sync lag: %w", err)
	}
	return SyncLag{LastSuccess: r.LastSuccess.Time, Events: r.Events, Oldest: r.Oldest.Time}, nil
}

// ClaimSyncStallAlert reports whether the caller should raise the stall
// alert for a sync stalled since the last success: true for exactly one
// caller, among all servers, per stall.
func (s *Store) ClaimSyncStallAlert(ctx context.Context) (bool, error) {
	n, err := s.exec(ctx, `UPDATE bucket_sync_status SET stall_alerted_at = now()
		WHERE stall_alerted_at IS NULL OR (last_success IS NOT NULL AND stall_alerted_at < last_success)`)
	if err != nil {
		return false, fmt.Errorf("storage: claim sync stall alert: %w", err)
	}
	return n == 1, nil
}

// TryLock takes the session-level advisory lock key on a connection of its
// own, if no other session holds it. It returns ok false when one does; when
// ok, unlock releases it and returns the connection.
func (s *Store) TryLock(ctx context.Context, key Lock) (unlock func(), ok bool, err error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("storage: lock %d: %w", key, err)
	}
	if err := conn.GetContext(ctx, &ok, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("storage: lock %d: %w", key, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		// A connection whose unlock failed still holds the lock: close it
		// for good rather than hand it back to the pool.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, true, nil
}

// OrgSyncLag is how far the bucket is behind one organization's log.
type OrgSyncLag struct {
	// LastSuccess is when a sync run last completed with every organization
	// exported; zero if never.
	LastSuccess time.Time
	// SyncedSeq is the organization's high-water mark: every event up to it
	// is in the bucket.
	SyncedSeq int64
	// Events is how many of the organization's events are not in the bucket.
	Events int64
	// Oldest is when the oldest of them was stored; zero if none.
	Oldest time.Time
}

// OrgBucketSyncLag returns how far the bucket is behind the organization's
// log: three rows read by key, whatever the log's size.
func (q queries) OrgBucketSyncLag(ctx context.Context, orgID int64) (OrgSyncLag, error) {
	var r struct {
		LastSuccess sql.NullTime `db:"last_success"`
		SyncedSeq   int64        `db:"synced_seq"`
		Events      int64        `db:"events"`
		Oldest      sql.NullTime `db:"oldest"`
	}
	// As in BucketSyncLag: the oldest unexported event is the one right
	// after the high-water mark.
	err := q.get(ctx, &r, `SELECT (SELECT last_success FROM bucket_sync_status) AS last_success,
			coalesce(b.synced_seq, 0) AS synced_seq, greatest(o.last_seq - coalesce(b.synced_seq, 0), 0) AS events,
			(SELECT received_at FROM audit_events
				WHERE org_id = o.id AND seq > coalesce(b.synced_seq, 0) ORDER BY seq LIMIT 1) AS oldest
		FROM organizations o LEFT JOIN bucket_sync_orgs b ON b.org_id = o.id WHERE o.id = $1`, orgID)
	if err != nil {
		return OrgSyncLag{}, notFound(err, "storage: sync lag of organization %d", orgID)
	}
	return OrgSyncLag{LastSuccess: r.LastSuccess.Time, SyncedSeq: r.SyncedSeq, Events: r.Events, Oldest: r.Oldest.Time}, nil
}
