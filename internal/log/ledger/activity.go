package ledger

import (
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
)

// actors returns the distinct actors of events: their actor_user_id values
// that are numbers, and their actor_email values in lower case. LockLog
// finds which of them are members of the organization.
func actors(events []audit.Event) (ids []int64, emails []string) {
	seenEmail, seenID := map[string]bool{}, map[int64]bool{}
	for _, e := range events {
		if e.ActorUserID != "" {
			if n, err := strconv.ParseInt(e.ActorUserID, 10, 64); err == nil && !seenID[n] {
				seenID[n] = true
				ids = append(ids, n)
			}
		}
		if e.ActorEmail != "" {
			if l := strings.ToLower(e.ActorEmail); !seenEmail[l] {
				seenEmail[l] = true
				emails = append(emails, l)
			}
		}
	}
	return ids, emails
}

// activityRows returns what marks the actors of events active on the
// events' UTC days, and counts their run and report events (AppendEvents
// applies it with the events). An actor is matched to
// one of members (the organization's members among the batch's actors,
// found by LockLog) by actor_user_id (this server's user id) or, failing
// that, by actor_email without regard to case. The batch is reduced to one
// row per member and day, so the database writes a few thousand rollup rows,
// not one per event. Events before since do not count.
func activityRows(members []storage.Member, events []audit.Event, since time.Time) []storage.ActivityDay {
	if len(members) == 0 {
		return nil
	}
	byID, byEmail := map[int64]bool{}, map[string]int64{}
	for _, m := range members {
		byID[m.ID] = true
		if m.Email != "" {
			byEmail[m.Email] = m.ID
		}
	}

	type key struct {
		user int64
		day  time.Time
	}
	groups := map[key]*storage.ActivityDay{}
	var days []*storage.ActivityDay
	for _, e := range events {
		if e.Timestamp.Before(since) {
			continue
		}
		user, ok := int64(0), false
		if n, err := strconv.ParseInt(e.ActorUserID, 10, 64); err == nil && byID[n] {
			user, ok = n, true
		} else if e.ActorEmail != "" {
			user, ok = byEmail[strings.ToLower(e.ActorEmail)]
		}
		if !ok {
			continue
		}
		t := e.Timestamp.UTC()
		k := key{user, time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
		d := groups[k]
		if d == nil {
			d = &storage.ActivityDay{UserID: user, Day: k.day}
			groups[k] = d
			days = append(days, d)
		}
		if t.After(d.Last) {
			d.Last = t
		}
		switch {
		case strings.HasPrefix(string(e.Action), "run:"):
			d.Runs++
		case strings.HasPrefix(string(e.Action), "report:"):
			d.Reports++
		}
	}
	rows := make([]storage.ActivityDay, len(days))
	for i, d := range days {
		rows[i] = *d
	}
	return rows
}
