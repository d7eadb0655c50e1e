package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// LogHead is the end of an organization's log: its last sequence number and
// the chain hash of that event (nil before the first hashed event).
type LogHead struct {
	Seq  int64  `db:"last_seq"`
	Hash []byte `db:"last_hash"`
}

// ChainHead is an organization's log as the checkpoint job sees it.
type ChainHead struct {
	OrgID   int64  `db:"id"`
	Org     string `db:"name"`
	LastSeq int64  `db:"last_seq"`
	// CheckpointSeq is the last sequence number of the newest checkpoint, 0
	// when there is none.
	CheckpointSeq int64 `db:"checkpoint_seq"`
}

// ChainHeads returns every organization whose log has events no checkpoint
// covers yet, by id.
func (q queries) ChainHeads(ctx context.Context) ([]ChainHead, error) {
	var hs []ChainHead
	err := q.sel(ctx, &hs, `SELECT o.id, o.name, o.last_seq, COALESCE(c.last_seq, 0) AS checkpoint_seq
		FROM organizations o LEFT JOIN LATERAL (SELECT last_seq FROM chain_checkpoints
			WHERE org_id = o.id ORDER BY last_seq DESC LIMIT 1) c ON true
		WHERE o.last_hash IS NOT NULL AND o.last_seq > COALESCE(c.last_seq, 0) ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("storage: chain heads: %w", err)
	}
	return hs, nil
}

// Checkpoint is a signed checkpoint as stored.
type Checkpoint struct {
	OrgID             int64     `db:"org_id"`
	FirstSeq          int64     `db:"first_seq"`
	LastSeq           int64     `db:"last_seq"`
	LastHash          []byte    `db:"last_hash"`
	CreatedAt         time.Time `db:"created_at"`
	PreviousSignature []byte    `db:"previous_signature"`
	Signature         []byte    `db:"signature"`
	KeyID             string    `db:"key_id"`
}

const checkpointColumns = `org_id, first_seq, last_seq, last_hash, created_at, previous_signature, signature, key_id`

// LockCheckpoints takes a transaction-scoped lock on the organization's
// checkpoints, so that two processes never sign the same range.
func (tx *Tx) LockCheckpoints(ctx context.Context, orgID int64) error {
	if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock($1, hashint8($2))`, lockCheckpointsClass, orgID); err != nil {
		return fmt.Errorf("storage: lock checkpoints of organization %d: %w", orgID, err)
	}
	return nil
}

// TryLockCheckpointJob takes the transaction-scoped lock of the periodic
// checkpoint job if no other process holds it, and reports whether it did.
func (tx *Tx) TryLockCheckpointJob(ctx context.Context) (bool, error) {
	var ok bool
	if err := tx.get(ctx, &ok, `SELECT pg_try_advisory_xact_lock($1)`, LockCheckpointJob); err != nil {
		return false, fmt.Errorf("storage: checkpoint job lock: %w", err)
	}
	return ok, nil
}

// LastCheckpoint returns the organization's newest checkpoint.
func (q queries) LastCheckpoint(ctx context.Context, orgID int64) (Checkpoint, error) {
	var c Checkpoint
	err := q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1
		ORDER BY last_seq DESC LIMIT 1`, orgID)
	return c, notFound(err, "storage: last checkpoint of organization %d", orgID)
}

// CheckpointAt returns the organization's checkpoint ending at lastSeq.
func (q queries) CheckpointAt(ctx context.Context, orgID, lastSeq int64) (Checkpoint, error) {
	var c Checkpoint
	err := q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1 AND last_seq = $2`, orgID, lastSeq)
	return c, notFound(err, "storage: checkpoint %d of organization %d", lastSeq, orgID)
}

// Checkpoints returns the organization's checkpoints with last_seq in
// [from, to], by last_seq.
func (q queries) Checkpoints(ctx context.Context, orgID, from, to int64) ([]Checkpoint, error) {
	var cs []Checkpoint
	err := q.sel(ctx, &cs, `SELECT `+checkpointColumns+` FROM chain_checkpoints
		WHERE org_id = $1 AND last_seq BETWEEN $2 AND $3 ORDER BY last_seq`, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: checkpoints of organization %d: %w", orgID, err)
	}
	return cs, nil
}

// CheckpointBefore returns the newest checkpoint of the organization with
// last_seq < seq (by sequence) or created before t (by time), whichever the
// caller passes non-zero.
func (q queries) CheckpointBefore(ctx context.Context, orgID, seq int64, t time.Time) (Checkpoint, error) {
	var c Checkpoint
	var err error
	if seq > 0 {
		err = q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1 AND last_seq < $2
			ORDER BY last_seq DESC LIMIT 1`, orgID, seq)
	} else {
		err = q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1 AND created_at < $2
			ORDER BY last_seq DESC LIMIT 1`, orgID, t)
	}
	return c, notFound(err, "storage: checkpoint before %d/%s of organization %d", seq, t, orgID)
}

// CheckpointAfter returns the oldest checkpoint of the organization with
// last_seq >= seq, or created at or after t, whichever is non-zero.
func (q queries) CheckpointAfter(ctx context.Context, orgID, seq int64, t time.Time) (Checkpoint, error) {
	var c Checkpoint
	var err error
	if seq > 0 {
		err = q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1 AND last_seq >= $2
			ORDER BY last_seq LIMIT 1`, orgID, seq)
	} else {
		err = q.get(ctx, &c, `SELECT `+checkpointColumns+` FROM chain_checkpoints WHERE org_id = $1 AND created_at >= $2
			ORDER BY last_seq LIMIT 1`, orgID, t)
	}
	return c, notFound(err, "storage: checkpoint after %d/%s of organization %d", seq, t, orgID)
}

// InsertCheckpoint records a signed checkpoint.
func (tx *Tx) InsertCheckpoint(ctx context.Context, c Checkpoint) error {
	if c.PreviousSignature == nil {
		c.PreviousSignature = []byte{} // the first checkpoint's: empty, not NULL
	}
	_, err := tx.exec(ctx, `INSERT INTO chain_checkpoints (`+checkpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.OrgID, c.FirstSeq, c.LastSeq, c.LastHash, c.CreatedAt, c.PreviousSignature, c.Signature, c.KeyID)
	if err != nil {
		return fmt.Errorf("storage: record checkpoint %d of organization %d: %w", c.LastSeq, c.OrgID, classify(err))
	}
	return nil
}

// OrgLastSeq returns the organization's last sequence number.
func (q queries) OrgLastSeq(ctx context.Context, orgID int64) (int64, error) {
	var n int64
	err := q.get(ctx, &n, `SELECT last_seq FROM organizations WHERE id = $1`, orgID)
	return n, notFound(err, "storage: last sequence of organization %d", orgID)
}

// InSnapshot runs fn in a read-only transaction that sees one consistent
// snapshot of the database, as verification needs.
//
// A snapshot marked with entity.ReadStandby is taken on the standby while
// it is usable: one consistent state of the log, as far as it has replayed.
func (s *Store) InSnapshot(ctx context.Context, fn func(*Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	if conn := s.standbyConn(ctx); conn != nil {
		defer conn.Close()
		tx, err := conn.BeginTxx(ctx, opts)
		if err == nil {
			defer tx.Rollback()
			return fn(&Tx{queries: queries{q: tx}, tx: tx, parts: s.parts})
		}
		s.sb.failed(err)
	}
	tx, err := s.db.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("storage: begin snapshot: %w", err)
	}
	defer tx.Rollback()
	return fn(&Tx{queries: queries{q: tx}, tx: tx, parts: s.parts})
}

// ChainEvent is an event as verification reads it: valid only during the
// callback it is passed to.
type ChainEvent struct {
	Seq   int64
	Event audit.Event
	// Hash is the stored chain hash, nil for an event stored before the
	// chain existed.
	Hash []byte
}

// chainBatch is how many rows each FETCH of ChainEvents reads.
const chainBatch = 5000

// ChainEvents calls fn with each event of the organization with sequence
// number in [from, to], in sequence order, through a server-side cursor, so
// memory stays flat. Rows sharing a number (which only tampering makes) come
// in no particular order: the sort then follows the index alone, which is
// what makes reading fast. It must run in a transaction (InSnapshot).
func (tx *Tx) ChainEvents(ctx context.Context, orgID, from, to int64, fn func(*ChainEvent) error) error {
	_, err := tx.q.ExecContext(ctx, `DECLARE chain_events NO SCROLL CURSOR FOR
		SELECT seq, `+strings.Join(audit.Columns(), ", ")+`, hash
		FROM audit_events WHERE org_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`, orgID, from, to)
	if err != nil {
		return fmt.Errorf("storage: read chain of organization %d: %w", orgID, err)
	}
	defer tx.q.ExecContext(context.WithoutCancel(ctx), `CLOSE chain_events`)
	var (
		ce   ChainEvent
		keys keyScan
		hash sql.RawBytes
	)
	dest := append(keys.dest([]any{&ce.Seq}), &hash)
	for {
		rows, err := tx.q.QueryContext(ctx, `FETCH `+strconv.Itoa(chainBatch)+` FROM chain_events`)
		if err != nil {
			return fmt.Errorf("storage: read chain of organization %d: %w", orgID, err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("storage: read chain of organization %d: %w", orgID, err)
			}
			n++
			keys.event(&ce.Event)
			ce.Hash = hash
			if err := fn(&ce); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("storage: read chain of organization %d: %w", orgID, err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: read chain of organization %d: %w", orgID, err)
		}
		if n < chainBatch {
			return nil
		}
	}
}

// ErrNoChain means an organization has no chained events yet.
var ErrNoChain = errors.New("no chained events")

// EventHash returns the stored chain hash of the organization's event seq.
func (q queries) EventHash(ctx context.Context, orgID, seq int64) ([]byte, error) {
	var h []byte
	err := q.get(ctx, &h, `SELECT hash FROM audit_events WHERE org_id = $1 AND seq = $2 ORDER BY received_at LIMIT 1`, orgID, seq)
	if err != nil {
		return nil, notFound(err, "storage: hash of event %d of organization %d", seq, orgID)
	}
	if h == nil {
		return nil, fmt.Errorf("storage: event %d of organization %d: %w", seq, orgID, ErrNoChain)
	}
	return h, nil
}

// ChainStart returns the sequence number of the organization's first
// chained event: 1, unless the database was upgraded from a version without
// the chain.
func (q queries) ChainStart(ctx context.Context, orgID int64) (int64, error) {
	var seq sql.NullInt64
	if err := q.get(ctx, &seq, `SELECT min(seq) FROM audit_events WHERE org_id = $1 AND hash IS NOT NULL`, orgID); err != nil {
		return 0, fmt.Errorf("storage: chain start of organization %d: %w", orgID, err)
	}
	if !seq.Valid {
		return 0, fmt.Errorf("storage: organization %d: %w", orgID, ErrNoChain)
	}
	return seq.Int64, nil
}
