package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/auditgraph/auditgraph/audit"
)

// AppendedChannel is the PostgreSQL NOTIFY channel on which every append to
// an organization's audit log is announced, for live subscribers on any
// server replica.
const AppendedChannel = "audit_events"

// Appended is the payload of a notification on AppendedChannel: the events
// From..To (inclusive) of organization Org were committed. It stays small
// (NOTIFY payloads are limited to 8000 bytes); listeners read the events
// themselves with EventsBySeq.
type Appended struct {
	Org  int64 `json:"org"`
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// ParseAppended decodes a notification payload on AppendedChannel.
func ParseAppended(payload string) (Appended, error) {
	var a Appended
	if err := json.Unmarshal([]byte(payload), &a); err != nil {
		return a, fmt.Errorf("storage: notification %q: %w", payload, err)
	}
	if a.Org <= 0 || a.From <= 0 || a.To < a.From {
		return a, fmt.Errorf("storage: notification %q: not an organization and a sequence range", payload)
	}
	return a, nil
}

// EventsBySeq returns an organization's events with sequence numbers from..to
// (inclusive), in sequence order.
func (q queries) EventsBySeq(ctx context.Context, orgID, from, to int64) ([]StoredEvent, error) {
	es, err := q.events(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE org_id = $1 AND seq BETWEEN $2 AND $3
		ORDER BY seq`, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: events %d..%d of organization %d: %w", from, to, orgID, err)
	}
	return es, nil
}

// LastSeq returns the sequence number of an organization's newest event, 0
// when its log is empty.
func (q queries) LastSeq(ctx context.Context, orgID int64) (int64, error) {
	var last int64
	if err := q.get(ctx, &last, `SELECT last_seq FROM organizations WHERE id = $1`, orgID); err != nil {
		return 0, notFound(err, "storage: last sequence number of organization %d", orgID)
	}
	return last, nil
}

// Matches reports whether e meets f's conditions other than the time window
// and the organization: the same tests Events makes in SQL, for events
// delivered live. As in SQL, an event without a response code fails a
// response code bound.
func (f EventFilter) Matches(e audit.Event) bool {
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, string(e.Action)) {
		return false
	}
	for _, m := range []struct{ v, a, b string }{
		{f.Actor, e.ActorUserID, e.ActorEmail},
		{f.TargetUser, e.UserAsset, e.UserEmail},
		{f.Entity, e.EntityName, e.EntityAsset},
		{f.Project, e.ProjectName, e.ProjectAsset},
	} {
		if m.v != "" && m.v != m.a && m.v != m.b {
			return false
		}
	}
	noCode := e.ResponseCode == 0
	if f.CodeMin != 0 && (noCode || e.ResponseCode < f.CodeMin) {
		return false
	}
	if f.CodeMax != 0 && (noCode || e.ResponseCode > f.CodeMax) {
		return false
	}
	return true
}
