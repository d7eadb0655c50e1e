package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
)

// The append path's statements. An append holds its organization's log
// locked from LockLog to the commit, and appends to one organization run one
// at a time, so every round trip to PostgreSQL inside the lock costs every
// waiting batch. The statements here are shaped to take few: LockLog also
// records the batch's client ids, finds the batch's actors among the members
// and counts the enabled alert rules, and AppendEvents writes a small batch,
// moves the head, applies the batch's activity and queues the announcement
// in one statement.

// LockedLog is what LockLog reads with the lock.
type LockedLog struct {
	LogHead
	// Members are the organization's members among the actors asked for.
	Members []Member
	// Rules is how many enabled alert rules the organization has.
	Rules int
	// Fresh holds the client ids asked for that the log had not seen
	// (now recorded as seen), nil when none were asked for or when
	// AllFresh.
	Fresh map[string]bool
	// AllFresh says that every client id asked for was new and none was
	// asked for twice: the batch has no duplicate. It spares a bulk batch
	// reading back and hashing its 10,000 ids.
	AllFresh bool
}

// lockLogSQL locks the organization's row (FOR UPDATE: under READ COMMITTED
// a wait for another append's lock ends with that append's head) and, in the
// same round trip, records the batch's client ids ($4), runs
// membersByActorSQL and counts the enabled rules. The ids are inserted from
// the locked row, so they are recorded only once the lock is held, as when
// they were claimed in a statement of their own after it: no append waits
// for the lock while holding ids that the holder may wait for.
var lockLogSQL = `WITH o AS (
		SELECT id, last_seq, last_hash FROM organizations WHERE id = $1 FOR UPDATE
	), claimed AS (
		INSERT INTO audit_event_ids (org_id, client_id)
		SELECT o.id, c.id FROM o CROSS JOIN unnest($4::text[]) AS c(id)
		ON CONFLICT DO NOTHING RETURNING client_id
	)
	SELECT o.last_seq, o.last_hash,
		(SELECT count(*) FROM alert_rules r WHERE r.org_id = o.id AND r.enabled) AS rules,
		COALESCE(m.ids, '{}') AS ids, COALESCE(m.emails, '{}') AS emails,
		(SELECT count(*) FROM claimed) = cardinality($4::text[]) AS all_fresh,
		CASE WHEN (SELECT count(*) FROM claimed) < cardinality($4::text[])
			THEN (SELECT COALESCE(array_agg(client_id), '{}') FROM claimed) END AS fresh
	FROM o
	CROSS JOIN LATERAL (SELECT array_agg(x.id) AS ids, array_agg(x.email) AS emails FROM (` + membersByActorSQL + `) x) m`

// LockLog locks an organization's log until the transaction ends (which
// serializes appends to it) and returns its head, the organization's
// members among the users with the given ids or lower-case emails (as
// MembersByActor), and how many enabled alert rules it has. It also records
// clientIDs, the batch's client ids ("" excluded, repeats allowed), and
// returns in Fresh those the log had not seen: one INSERT … ON CONFLICT DO
// NOTHING both checks and records them, and the caller drops the others'
// events as duplicates. The lock makes the check race-free.
func (tx *Tx) LockLog(ctx context.Context, orgID int64, ids []int64, emails []string, clientIDs []string) (LockedLog, error) {
	var (
		l       LockedLog
		mIDs    pq.Int64Array
		mEmails pq.StringArray
		fresh   pq.StringArray
	)
	if ids == nil {
		ids = []int64{}
	}
	if emails == nil {
		emails = []string{}
	}
	if clientIDs == nil {
		clientIDs = []string{}
	}
	err := tx.hotTx().q.QueryRowxContext(ctx, lockLogSQL, orgID, pq.Int64Array(ids), pq.StringArray(emails), pq.StringArray(clientIDs)).
		Scan(&l.Seq, &l.Hash, &l.Rules, &mIDs, &mEmails, &l.AllFresh, &fresh)
	if err != nil {
		return l, notFound(err, "storage: lock the log of organization %d", orgID)
	}
	if len(mIDs) > 0 {
		l.Members = make([]Member, len(mIDs))
		for i := range mIDs {
			l.Members[i] = Member{ID: mIDs[i], Email: mEmails[i]}
		}
	}
	if len(clientIDs) > 0 && !l.AllFresh {
		l.Fresh = make(map[string]bool, len(fresh))
		for _, id := range fresh {
			l.Fresh[id] = true
		}
	}
	return l, nil
}

// unnestMax is the largest batch AppendEvents writes with one INSERT from
// arrays; larger ones are COPYed, which parses less per event (the bulk
// figure in bench/RESULTS.md is of 10,000-event batches).
const unnestMax = 500

// appendSQL inserts the events given as one array per column ($4 on; the
// seq of the n-th is $2+n-1), moves the head ($3 is the last hash; the last
// seq is $2+len-1), records the batch's actor pairs (actorsCTE, the two
// arrays after the payload) and announces the range (the payload follows the
// hashes), in one statement. Empty text and response code 0 are stored as
// NULL, as COPY stores them. appendActivitySQL also applies the batch's
// activity rows (activityCTEs, its arrays after the actor pairs) and returns
// the member-days it added.
var appendSQL, appendActivitySQL = appendStatement(false), appendStatement(true)

func appendStatement(activity bool) string {
	var cols, sel, args, names []string
	p := 4
	for _, s := range audit.Specs {
		cols = append(cols, s.Column)
		name := "c_" + s.Column
		names = append(names, name)
		switch s.Kind {
		case audit.Text:
			args = append(args, "$"+strconv.Itoa(p)+"::text[]")
			sel = append(sel, "NULLIF(a."+name+", '')")
		case audit.Code:
			args = append(args, "$"+strconv.Itoa(p)+"::int[]")
			sel = append(sel, "NULLIF(a."+name+", 0)")
		case audit.Time:
			args = append(args, "$"+strconv.Itoa(p)+"::timestamptz[]")
			sel = append(sel, "a."+name)
		}
		p++
	}
	hashArg := "$" + strconv.Itoa(p) + "::bytea[]"
	payload := "$" + strconv.Itoa(p+1)
	q := `WITH ins AS (
		INSERT INTO audit_events (org_id, seq, ` + strings.Join(cols, ", ") + `, hash)
		SELECT $1, $2::bigint + a.n - 1, ` + strings.Join(sel, ", ") + `, a.c_hash
		FROM unnest(` + strings.Join(args, ", ") + `, ` + hashArg + `)
			WITH ORDINALITY AS a(` + strings.Join(names, ", ") + `, c_hash, n)
	), head AS (
		UPDATE organizations SET last_seq = $2::bigint + cardinality(` + hashArg + `) - 1, last_hash = $3 WHERE id = $1
	), ` + actorsCTE(p+2)
	if !activity {
		return q + `
	SELECT pg_notify('` + AppendedChannel + `', ` + payload + `)`
	}
	return q + `, ` + activityCTEs(p+4) + `
	SELECT pg_notify('` + AppendedChannel + `', ` + payload + `) AS notified, ` + addedDaysColumns
}

// advanceSQL moves the head, records the actor pairs ($5, $6) and announces
// the range, for a COPYed batch.
var advanceSQL = `WITH head AS (UPDATE organizations SET last_seq = $2, last_hash = $3 WHERE id = $1), ` + actorsCTE(5) + `
	SELECT pg_notify('` + AppendedChannel + `', $4)`

// actorsCTE records in audit_event_actors the (actor_user_id, actor_email)
// pairs given as two arrays from $p: the actor search's index keys each
// event by its email (by its user id when it has no email), and this table
// tells which emails a user id came with, so that a search by user id finds
// its events under each of them (storage.EventsQuery; migration 0016). A
// pair the organization has recorded costs an index probe and no write.
func actorsCTE(p int) string {
	return `actors AS (
		INSERT INTO audit_event_actors (org_id, user_id, email)
		SELECT $1, p.u, p.e FROM unnest($` + strconv.Itoa(p) + `::text[], $` + strconv.Itoa(p+1) + `::text[]) AS p(u, e)
		ON CONFLICT DO NOTHING
	)`
}

// actorPairs returns the distinct (actor_user_id, actor_email) pairs of
// events that have both, as actorsCTE's two arrays.
func actorPairs(events []audit.Event) (ids, emails pq.StringArray) {
	type pair struct{ id, email string }
	seen := make(map[pair]struct{})
	ids, emails = pq.StringArray{}, pq.StringArray{}
	for i := range events {
		e := &events[i]
		if e.ActorUserID == "" || e.ActorEmail == "" {
			continue
		}
		k := pair{e.ActorUserID, e.ActorEmail}
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			ids, emails = append(ids, k.id), append(emails, k.email)
		}
	}
	return ids, emails
}

// AppendEvents writes events to orgID's log, numbered from first, each with
// its chain hash, moves the log's head to the last of them (LockLog must
// hold it), applies activity (rows for ApplyActivity, of the events'
// actors; none for the server's own events), and announces the events on
// AppendedChannel when the transaction commits (PostgreSQL delivers
// notifications only on commit and in commit order, so nothing rolled back
// is announced and one organization's ranges arrive in sequence order).
// Every event must have a timestamp at the stored precision and a partition
// to go to (EnsureEventPartitions). A batch of up to unnestMax events and
// its activity take one statement (and the bitmaps' statement when
// member-days were added, see ApplyActivity); a larger batch is COPYed, then
// its head moved and its activity applied.
func (tx *Tx) AppendEvents(ctx context.Context, orgID, first int64, events []audit.Event, hashes [][]byte, activity []ActivityDay) error {
	if len(events) == 0 {
		return nil
	}
	last := first + int64(len(events)) - 1
	payload, err := json.Marshal(Appended{Org: orgID, From: first, To: last})
	if err != nil {
		return err
	}
	if len(events) > unnestMax {
		if err := tx.InsertEvents(ctx, orgID, first, events, hashes); err != nil {
			return err
		}
		ids, emails := actorPairs(events)
		if _, err := tx.hotTx().q.ExecContext(ctx, advanceSQL, orgID, last, hashes[len(hashes)-1], string(payload), ids, emails); err != nil {
			return fmt.Errorf("storage: advance the log of organization %d: %w", orgID, err)
		}
		return tx.ApplyActivity(ctx, orgID, activity)
	}
	args := make([]any, 0, 5+audit.NumKeys)
	args = append(args, orgID, first, hashes[len(hashes)-1])
	for i, s := range audit.Specs {
		switch s.Kind {
		case audit.Text:
			col := make(pq.StringArray, len(events))
			for j := range events {
				col[j] = *events[j].Text(i)
			}
			args = append(args, col)
		case audit.Code:
			col := make(pq.Int64Array, len(events))
			for j := range events {
				col[j] = int64(events[j].ResponseCode)
			}
			args = append(args, col)
		case audit.Time:
			col := make(pq.StringArray, len(events))
			for j := range events {
				col[j] = events[j].Timestamp.UTC().Format(time.RFC3339Nano)
			}
			args = append(args, col)
		}
	}
	ids, emails := actorPairs(events)
	args = append(args, pq.ByteaArray(hashes), string(payload), ids, emails)
	if len(activity) == 0 {
		if _, err := tx.hotTx().q.ExecContext(ctx, appendSQL, args...); err != nil {
			return fmt.Errorf("storage: insert %d audit events into organization %d: %w", len(events), orgID, err)
		}
		return nil
	}
	var added struct {
		Notified string `db:"notified"`
		addedDays
	}
	if err := tx.hotTx().get(ctx, &added, appendActivitySQL, append(args, activityArgs(activity)...)...); err != nil {
		return fmt.Errorf("storage: insert %d audit events and their activity into organization %d: %w", len(events), orgID, err)
	}
	return tx.applyActivityBits(ctx, orgID, added.addedDays)
}
