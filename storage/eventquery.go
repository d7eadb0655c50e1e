package storage

import (
	"context"
	"encoding/base64"
	"fmt"
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
	where := []string{"org_id = $1", "ts >= $2", "ts < $3"}
	args := []any{f.OrgID, f.Start, f.End}
	addArg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Actions) > 0 {
		where = append(where, "action = ANY("+addArg(pq.StringArray(f.Actions))+")")
	}
	for _, m := range []struct{ v, a, b string }{
		{f.Actor, "actor_user_id", "actor_email"},
		{f.TargetUser, "user_asset", "user_email"},
		{f.Entity, "entity_name", "entity_asset"},
		{f.Project, "project_name", "project_asset"},
	} {
		if m.v != "" {
			p := addArg(m.v)
			where = append(where, fmt.Sprintf("(%s = %s OR %s = %s)", m.a, p, m.b, p))
		}
	}
	if f.CodeMin != 0 {
		where = append(where, "response_code >= "+addArg(f.CodeMin))
	}
	if f.CodeMax != 0 {
		where = append(where, "response_code <= "+addArg(f.CodeMax))
	}
	if f.AfterSeq != 0 {
		where = append(where, "seq > "+addArg(f.AfterSeq))
	}
	dir, cmp := "ASC", ">"
	if f.NewestFirst {
		dir, cmp = "DESC", "<"
	}
	if f.After != "" {
		ts, seq, err := decodeEventCursor(f.After)
		if err != nil {
			return nil, nil, false, err
		}
		where = append(where, fmt.Sprintf("(ts, seq) %s (%s, %s)", cmp, addArg(ts), addArg(seq)))
	}
	es, err := q.events(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY ts %s, seq %s LIMIT %s", dir, dir, addArg(f.Limit+1)), args...)
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
