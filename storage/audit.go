package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
)

// StoredEvent is an audit event as kept: the documented fields plus the
// organization and its per-organization sequence number.
type StoredEvent struct {
	audit.Event
	OrgID int64
	Seq   int64
}

// eventColumns lists audit_events' columns in the order of eventRow's fields.
const eventColumns = `org_id, seq, ts, action, actor_user_id, actor_email, actor_ip,
	artifact_asset, artifact_digest, artifact_qualified_name, artifact_sequence_asset, cli_version,
	entity_asset, entity_name, project_asset, project_name, report_asset, report_name, response_code,
	user_asset, user_email`

// AppendEvents appends events to an organization's log in one statement. It
// takes the next sequence numbers from the organization row, which also
// serializes appends to one organization's log until the transaction ends.
func (tx *Tx) AppendEvents(ctx context.Context, orgID int64, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	events = stamped(events)
	if err := tx.ensureMonths(ctx, events); err != nil {
		return err
	}
	head, err := tx.lockHead(ctx, orgID)
	if err != nil {
		return err
	}
	first := head.Seq + 1
	hashes, newHead := hashOnto(head, len(events), func(i int) *audit.Event { return &events[i] })
	if err := tx.advanceHead(ctx, orgID, newHead); err != nil {
		return err
	}

	// One array per column; unnest turns them back into rows, and NULLIF turns
	// the empty string and code 0 back into "no value".
	var (
		seq  = make(pq.Int64Array, len(events))
		ts   = make(pq.StringArray, len(events))
		code = make(pq.Int64Array, len(events))
		text [17]pq.StringArray
	)
	for i, e := range events {
		if !e.Action.Valid() {
			return fmt.Errorf("storage: append audit event: unknown action %q", e.Action)
		}
		seq[i] = first + int64(i)
		ts[i] = e.Timestamp.UTC().Format(time.RFC3339Nano)
		code[i] = int64(e.ResponseCode)
		for j, v := range [...]string{string(e.Action), e.ActorUserID, e.ActorEmail, e.ActorIP,
			e.ArtifactAsset, e.ArtifactDigest, e.ArtifactQualifiedName, e.ArtifactSequenceAsset, e.CLIVersion,
			e.EntityAsset, e.EntityName, e.ProjectAsset, e.ProjectName, e.ReportAsset, e.ReportName,
			e.UserAsset, e.UserEmail} {
			text[j] = append(text[j], v)
		}
	}
	args := []any{orgID, seq, ts, code}
	for _, t := range text {
		args = append(args, t)
	}
	args = append(args, hashes.array())
	_, err = tx.q.ExecContext(ctx, `INSERT INTO audit_events (`+eventColumns+`, hash)
		SELECT $1, seq, ts, action, NULLIF(a1, ''), NULLIF(a2, ''), NULLIF(a3, ''), NULLIF(a4, ''), NULLIF(a5, ''),
			NULLIF(a6, ''), NULLIF(a7, ''), NULLIF(a8, ''), NULLIF(a9, ''), NULLIF(a10, ''), NULLIF(a11, ''),
			NULLIF(a12, ''), NULLIF(a13, ''), NULLIF(a14, ''), NULLIF(code, 0), NULLIF(a15, ''), NULLIF(a16, ''), h
		FROM unnest($2::bigint[], $3::timestamptz[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
			$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bytea[])
			AS u(seq, ts, code, action, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, h)`,
		args...)
	if err != nil {
		return fmt.Errorf("storage: append %d audit events to organization %d: %w", len(events), orgID, err)
	}
	if err := tx.alertAppended(ctx, orgID, first, events); err != nil {
		return err
	}
	return tx.notifyAppended(ctx, orgID, first, newHead.Seq)
}

// eventRow scans one audit_events row.
type eventRow struct {
	OrgID                 int64     `db:"org_id"`
	Seq                   int64     `db:"seq"`
	TS                    time.Time `db:"ts"`
	Action                string    `db:"action"`
	ActorUserID           *string   `db:"actor_user_id"`
	ActorEmail            *string   `db:"actor_email"`
	ActorIP               *string   `db:"actor_ip"`
	ArtifactAsset         *string   `db:"artifact_asset"`
	ArtifactDigest        *string   `db:"artifact_digest"`
	ArtifactQualifiedName *string   `db:"artifact_qualified_name"`
	ArtifactSequenceAsset *string   `db:"artifact_sequence_asset"`
	CLIVersion            *string   `db:"cli_version"`
	EntityAsset           *string   `db:"entity_asset"`
	EntityName            *string   `db:"entity_name"`
	ProjectAsset          *string   `db:"project_asset"`
	ProjectName           *string   `db:"project_name"`
	ReportAsset           *string   `db:"report_asset"`
	ReportName            *string   `db:"report_name"`
	ResponseCode          *int      `db:"response_code"`
	UserAsset             *string   `db:"user_asset"`
	UserEmail             *string   `db:"user_email"`
}

func (r eventRow) stored() StoredEvent {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	e := StoredEvent{OrgID: r.OrgID, Seq: r.Seq, Event: audit.Event{
		Action: audit.Action(r.Action), Timestamp: r.TS.UTC(),
		ActorUserID: s(r.ActorUserID), ActorEmail: s(r.ActorEmail), ActorIP: s(r.ActorIP),
		ArtifactAsset: s(r.ArtifactAsset), ArtifactDigest: s(r.ArtifactDigest),
		ArtifactQualifiedName: s(r.ArtifactQualifiedName), ArtifactSequenceAsset: s(r.ArtifactSequenceAsset),
		CLIVersion: s(r.CLIVersion), EntityAsset: s(r.EntityAsset), EntityName: s(r.EntityName),
		ProjectAsset: s(r.ProjectAsset), ProjectName: s(r.ProjectName), ReportAsset: s(r.ReportAsset),
		ReportName: s(r.ReportName), UserAsset: s(r.UserAsset), UserEmail: s(r.UserEmail),
	}}
	if r.ResponseCode != nil {
		e.ResponseCode = *r.ResponseCode
	}
	return e
}

// OrgEvents returns up to limit events of an organization with sequence
// number > afterSeq, in sequence order.
func (q queries) OrgEvents(ctx context.Context, orgID, afterSeq int64, limit int) ([]StoredEvent, error) {
	var rows []eventRow
	err := q.sel(ctx, &rows, `SELECT `+eventColumns+` FROM audit_events WHERE org_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, orgID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: events of organization %d: %w", orgID, err)
	}
	es := make([]StoredEvent, len(rows))
	for i, r := range rows {
		es[i] = r.stored()
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

// ensureMonths makes sure the partitions of the events' months exist. Inside
// a transaction a missing one is created there and then (and is only
// remembered once it is known to have committed, by EnsurePartitions).
func (tx *Tx) ensureMonths(ctx context.Context, events []audit.Event) error {
	var done []time.Time
	for _, e := range events {
		m := monthStart(e.Timestamp)
		if e.Timestamp.IsZero() {
			m = monthStart(time.Now())
		}
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

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
