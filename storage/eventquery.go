package storage

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// EventFilter selects an organization's events for the GraphQL API.
type EventFilter struct {
	OrgID   int64
	Actions []string
	// Actor matches actor_user_id or actor_email; TargetUser user_asset or
	// user_email; Entity entity_name or entity_asset; Project project_name
	// or project_asset.
	Actor, TargetUser, Entity, Project string
	// CodeMin and CodeMax bound response_code when not zero.
	CodeMin, CodeMax int
	Start, End       time.Time
	// AfterSeq, when not zero, keeps only events whose sequence is above it
	// (what a live subscription missed).
	AfterSeq    int64
	NewestFirst bool
	After       string
	Limit       int
}

// Events returns up to Limit events matching f, keyset-paginated on
// (timestamp, sequence), and the cursor of each.
func (q queries) Events(ctx context.Context, f EventFilter) ([]StoredEvent, []string, bool, error) {
	query, args, err := EventsQuery(f)
	if err != nil {
		return nil, nil, false, err
	}
	es, err := q.events(ctx, query, args...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("storage: events of organization %d: %w", f.OrgID, err)
	}
	more := len(es) > f.Limit
	if more {
		es = es[:f.Limit]
	}
	cs := make([]string, len(es))
	for i, e := range es {
		cs[i] = encodeEventCursor(e.Timestamp, e.Seq)
	}
	return es, cs, more, nil
}

// maxActionWalks is the most actions EventsQuery walks one by one.
const maxActionWalks = 16

// EventsQuery is the statement of Events and its arguments (exported for
// EXPLAIN in the plan test and the bench). It is built so
// that the rows PostgreSQL reads stay close to the rows it returns, whatever
// the log's size (issue 15; migration 0012 has the indexes, and
// TestEventSearchReadsWhatItReturns checks the plans):
//
//   - Each page is the first Limit+1 rows of an index whose leading columns
//     are equalities and whose next ones are (ts, seq), so PostgreSQL walks
//     it in the page's order from the cursor and stops.
//   - actor, which matches actor_user_id or actor_email, drives whenever it
//     is given: one walk of the actor index (migration 0016, actorKey) per
//     key the actor's events are held under (actorKeys), merged.
//   - targetUser, which matches one of two columns, becomes two such walks,
//     one per column's index, whose pages are merged: the second leaves out
//     the rows the first returns. entity and project have no index (their
//     cost at ingest; see migration 0012): they are checked on the rows of
//     the other walks, which reads about as many rows per row returned as
//     the inverse of the entity's or project's share of the rows walked.
//     (With indexes on those columns, marking them indexed below would give
//     them the two walks and make them read what they return, at ingest's
//     cost.)
//   - Actions become one walk per action. The action index leaves out the
//     few high-volume actions (run:update, artifact:read, artifact:create,
//     project:read: most of a log, so indexing them would cost ingest most):
//     their walk is the primary key's, checking the action, which reads a
//     few rows per row it returns as long as the action is a sizeable share
//     of the log.
//   - A response-code range outside 2xx becomes one walk per code present in
//     the range, the codes found by a loose index scan (a recursive CTE that
//     jumps from one code to the next), with each action when actions are
//     given too (the dashboard's actions + responseCodeMin), on (action,
//     response_code, ts). Those indexes hold the codes outside 2xx only, so
//     ingest barely pays for them; a range with 2xx codes in it matches most
//     events and is checked on the rows of the other walks (a range of rare
//     2xx codes such as 201–299 is the one that reads more than it returns).
//
// The other filters are checked on the rows those walks read. The actor
// drives, else targetUser; without them, the code range outside 2xx (with the
// actions), else the actions; with none of those, the (org_id, ts, seq)
// primary key.
func EventsQuery(f EventFilter) (string, []any, error) {
	common := []string{"org_id = $1", "ts >= $2", "ts < $3"}
	args := []any{f.OrgID, f.Start, f.End}
	addArg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	dir, cmp := "ASC", ">"
	if f.NewestFirst {
		dir, cmp = "DESC", "<"
	}
	if f.After != "" {
		ts, seq, err := decodeEventCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		common = append(common, fmt.Sprintf("(ts, seq) %s (%s, %s)", cmp, addArg(ts), addArg(seq)))
	}
	// A repeated action would repeat its walk's rows.
	actions := slices.Compact(slices.Sorted(slices.Values(f.Actions)))
	// The actor drives whenever it is given (outside a catch-up), through
	// its keys (see actorKeys); its condition, among the common ones,
	// leaves out other actors' events under the same key.
	actorDrives := f.Actor != "" && f.AfterSeq == 0
	var actorArg string
	// The driving walks: each entry is the extra conditions of one.
	var branches [][]string
	for _, m := range []struct {
		v, a, b string
		indexed bool
	}{
		{f.Actor, "actor_user_id", "actor_email", false}, // see actorDrives
		{f.TargetUser, "user_asset", "user_email", true},
		{f.Entity, "entity_name", "entity_asset", false},
		{f.Project, "project_name", "project_asset", false},
	} {
		if m.v == "" {
			continue
		}
		p := addArg(m.v)
		if m.a == "actor_user_id" {
			actorArg = p
		}
		if branches == nil && m.indexed && !actorDrives {
			branches = [][]string{
				{fmt.Sprintf("%s = %s", m.a, p)},
				{fmt.Sprintf("%s = %s", m.b, p), fmt.Sprintf("%s IS DISTINCT FROM %s", m.a, p)},
			}
		} else {
			common = append(common, fmt.Sprintf("(%s = %s OR %s = %s)", m.a, p, m.b, p))
		}
	}
	// Response codes are smallint: the range is clamped to it and written
	// into the statement (integers), so that the planner sees its bounds.
	codeLo, codeHi := -32768, 32767
	if f.CodeMin != 0 {
		codeLo = max(codeLo, f.CodeMin)
	}
	if f.CodeMax != 0 {
		codeHi = min(codeHi, f.CodeMax)
	}
	hasCodes := f.CodeMin != 0 || f.CodeMax != 0
	if hasCodes && codeLo > codeHi {
		codeLo, codeHi = 1, 0 // nothing matches
	}
	codeCond := fmt.Sprintf("response_code BETWEEN %d AND %d", codeLo, codeHi)

	// The page's size stays a parameter, unlike the members page's: with
	// LIMIT $n PostgreSQL costs the prepared statement's generic plan
	// (prepared.go) as if it read a tenth of the matching rows and keeps
	// planning each run with its values, which is what a partitioned table
	// wants. A generic plan keeps every monthly partition and locks them
	// all at each run (PostgreSQL 15); with the limit written in, it was
	// chosen and the events page cost 1.7–1.9 ms of PostgreSQL CPU a
	// request against 0.4 ms with custom plans (bench section
	// postgraphile).
	limit := addArg(f.Limit + 1)
	walk := func(extra ...string) string {
		return `SELECT ` + eventColumns + ` FROM audit_events WHERE ` + strings.Join(append(slices.Clone(common), extra...), " AND ") +
			fmt.Sprintf(" ORDER BY ts %s, seq %s LIMIT %s", dir, dir, limit)
	}
	order := fmt.Sprintf(" ORDER BY ts %s, seq %s LIMIT %s", dir, dir, limit)
	// The partial code indexes hold the codes outside 2xx only; a range
	// with 2xx codes in it matches most events and is checked on the rows
	// the other walks read.
	codeWalk := hasCodes && (codeHi < 200 || codeLo >= 300)
	if hasCodes && !codeWalk {
		common = append(common, codeCond)
	}
	if f.AfterSeq != 0 {
		// What a live subscription missed: the events above a sequence
		// number, few by nature. They are found on (org_id, seq), then
		// filtered and ordered; the materialized CTE keeps the planner from
		// walking the whole log by time instead (a catch-up has no window).
		conds := slices.Clone(common)
		if len(branches) > 0 {
			alts := make([]string, len(branches))
			for i, br := range branches {
				alts[i] = "(" + strings.Join(br, " AND ") + ")"
			}
			conds = append(conds, "("+strings.Join(alts, " OR ")+")")
		}
		if len(actions) > 0 {
			conds = append(conds, "action = ANY("+addArg(pq.StringArray(actions))+")")
		}
		if codeWalk {
			conds = append(conds, codeCond)
		}
		return `WITH gap AS MATERIALIZED (SELECT ` + eventColumns + ` FROM audit_events WHERE org_id = $1 AND seq > ` +
			addArg(f.AfterSeq) + `) SELECT * FROM gap WHERE ` + strings.Join(conds, " AND ") + order, args, nil
	}
	switch {
	case actorDrives:
		if len(actions) > 0 {
			common = append(common, "action = ANY("+addArg(pq.StringArray(actions))+")")
		}
		if codeWalk {
			common = append(common, codeCond)
		}
		// One walk per key, unless the actor has more than maxActorKeys:
		// then one walk of the primary key checking the actor. The count
		// gates each branch once, before it reads anything.
		keys := "(SELECT count(*) FROM k)"
		return `WITH k(key) AS MATERIALIZED (` + actorKeys(actorArg) + `) SELECT * FROM ((SELECT e.* FROM k CROSS JOIN LATERAL (` +
			walk(actorKey+" = k.key") + `) e WHERE ` + keys + ` <= ` + strconv.Itoa(maxActorKeys) + `) UNION ALL (` +
			walk(keys+" > "+strconv.Itoa(maxActorKeys)) + `)) x` + order, args, nil
	case branches != nil:
		if len(actions) > 0 {
			common = append(common, "action = ANY("+addArg(pq.StringArray(actions))+")")
		}
		if codeWalk {
			common = append(common, codeCond)
		}
		parts := make([]string, len(branches))
		for i, br := range branches {
			parts[i] = "(" + walk(br...) + ")"
		}
		return `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) e` + order, args, nil
	case codeWalk:
		// The codes present in the range, one index descent each (the
		// range's bounds, repeated in the recursive step, let the planner
		// use the partial indexes).
		codes := fmt.Sprintf(`WITH RECURSIVE codes(c) AS (
			SELECT min(response_code) FROM audit_events WHERE org_id = $1 AND %s
			UNION ALL
			SELECT (SELECT min(response_code) FROM audit_events WHERE org_id = $1 AND response_code > codes.c AND %s)
			FROM codes WHERE codes.c IS NOT NULL) `, codeCond, codeCond)
		if len(actions) > 0 {
			return codes + `SELECT e.* FROM codes CROSS JOIN unnest(` + addArg(pq.StringArray(actions)) + `::text[]) AS k(action)
				CROSS JOIN LATERAL (` + walk("response_code = codes.c", "action = k.action", codeCond) + `) e WHERE codes.c IS NOT NULL` + order, args, nil
		}
		return codes + `SELECT e.* FROM codes CROSS JOIN LATERAL (` + walk("response_code = codes.c", codeCond) + `) e WHERE codes.c IS NOT NULL` + order, args, nil
	case len(actions) > maxActionWalks:
		// So many actions are most of the catalog: one walk checking them
		// reads few rows per row returned, and plans far faster.
		return walk("action = ANY(" + addArg(pq.StringArray(actions)) + ")"), args, nil
	case len(actions) > 0:
		// One walk per action, each action written into the statement so
		// that the planner can match the partial action index.
		parts := make([]string, len(actions))
		for i, a := range actions {
			parts[i] = walk("action = " + pq.QuoteLiteral(a))
		}
		if len(parts) == 1 {
			return parts[0], args, nil
		}
		return `SELECT * FROM ((` + strings.Join(parts, ") UNION ALL (") + `)) e` + order, args, nil
	}
	return walk(), args, nil
}

// actorKey is the expression the actor index (migration 0016) holds: an
// event's actor email, or its actor user id when it has no email. One
// entry per event, where an index per column took 1.4 on the bench's mix
// (and 2 where every event carries both) at the bulk ingest's expense.
const actorKey = "coalesce(actor_email, actor_user_id)"

// maxActorKeys is the most keys an actor search walks one by one. A user
// id that came with more emails than that (a platform that sends one user
// id for many people, say) is searched as before the actor index: one walk
// of the primary key, checking the actor on each row, which reads few rows
// per row returned when the actor is a large share of the log, as such an
// id is.
const maxActorKeys = 64

// actorKeys is the query of the keys under which the events of actor p (an
// email or a user id) are indexed: p itself (its events with that email,
// or with that user id and no email) and every email its user id came with
// (audit_event_actors, recorded with the events by AppendEvents), under
// which the events carrying both are. Each key is one walk; the actor's
// condition, checked on each, drops other actors' events under a key (an
// email that two user ids share, say).
func actorKeys(p string) string {
	return `SELECT ` + p + `::text UNION SELECT email FROM audit_event_actors WHERE org_id = $1 AND user_id = ` + p
}

func encodeEventCursor(ts time.Time, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("e:%d:%d", ts.UnixNano(), seq)))
}

func decodeEventCursor(s string) (time.Time, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), ":")
	if err != nil || len(parts) != 3 || parts[0] != "e" {
		return time.Time{}, 0, ErrBadCursor
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	return time.Unix(0, ns).UTC(), seq, nil
}
