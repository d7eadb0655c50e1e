package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// markEventActivity marks the actors of events just stored active on the
// events' UTC days, and counts their run and report events. An actor is
// matched to a member of the organization by actor_user_id (this server's
// user id) or, failing that, by actor_email without regard to case. The
// batch's distinct actors are looked up in one query and the batch is
// reduced in Go to one row per member and day, so the database writes a few
// thousand rollup rows, not one per event. Events before since do not count.
func (tx *Tx) markEventActivity(ctx context.Context, orgID int64, events []IngestEvent, since time.Time) error {
	var emails pq.StringArray
	var ids pq.Int64Array
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
	if len(ids) == 0 && len(emails) == 0 {
		return nil
	}
	var members []struct {
		ID    int64  `db:"id"`
		Email string `db:"email"`
	}
	err := tx.sel(ctx, &members, `SELECT u.id, lower(COALESCE(u.email, '')) AS email FROM users u
		JOIN memberships m ON m.user_id = u.id AND m.org_id = $1
		WHERE u.id = ANY($2) OR lower(u.email) = ANY($3)`, orgID, ids, emails)
	if err != nil {
		return fmt.Errorf("storage: record activity of organization %d: %w", orgID, err)
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
	type agg struct {
		last          time.Time
		runs, reports int64
	}
	groups := map[key]*agg{}
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
		g := groups[k]
		if g == nil {
			g = &agg{}
			groups[k] = g
		}
		if t.After(g.last) {
			g.last = t
		}
		switch {
		case strings.HasPrefix(string(e.Action), "run:"):
			g.runs++
		case strings.HasPrefix(string(e.Action), "report:"):
			g.reports++
		}
	}
	rows := make([]activityRow, 0, len(groups))
	for k, g := range groups {
		rows = append(rows, activityRow{k.user, k.day, g.last, g.runs, g.reports})
	}
	return tx.applyActivity(ctx, orgID, rows)
}

// activityRow is one member's activity on one UTC day.
type activityRow struct {
	user          int64
	day, last     time.Time
	runs, reports int64
}

// applyActivity adds members' activity days to the rollup and keeps each
// membership's last-active time, active-day count and run and report counts
// current, in one statement. The rows must be of members of the organization.
func (tx *Tx) applyActivity(ctx context.Context, orgID int64, rows []activityRow) error {
	if len(rows) == 0 {
		return nil
	}
	var (
		users, runs, reports pq.Int64Array
		days, lasts          pq.StringArray
	)
	for _, r := range rows {
		users, days, lasts = append(users, r.user), append(days, r.day.Format(time.DateOnly)), append(lasts, r.last.Format(time.RFC3339Nano))
		runs, reports = append(runs, r.runs), append(reports, r.reports)
	}
	_, err := tx.exec(ctx, `WITH members AS (
			SELECT user_id, day, max(last_at) AS last_at, sum(runs) AS runs, sum(reports) AS reports
			FROM unnest($2::bigint[], $3::date[], $4::timestamptz[], $5::bigint[], $6::bigint[])
				AS a(user_id, day, last_at, runs, reports)
			GROUP BY user_id, day
		), days AS (
			INSERT INTO activity_days AS d (org_id, user_id, day, last_at)
			SELECT $1, user_id, day, last_at FROM members
			ON CONFLICT (org_id, day, user_id) DO UPDATE SET last_at = greatest(d.last_at, EXCLUDED.last_at)
			RETURNING d.user_id, (xmax = 0) AS added
		)
		UPDATE memberships m SET
			active_days = m.active_days + COALESCE(n.added, 0),
			last_active_at = greatest(m.last_active_at, n.last_at),
			run_events = m.run_events + n.runs,
			report_events = m.report_events + n.reports
		FROM (SELECT mb.user_id, max(mb.last_at) AS last_at, sum(mb.runs) AS runs, sum(mb.reports) AS reports, max(dd.added) AS added
			FROM members mb
			LEFT JOIN (SELECT user_id, count(*) FILTER (WHERE added) AS added FROM days GROUP BY user_id) dd USING (user_id)
			GROUP BY mb.user_id) n
		WHERE m.org_id = $1 AND m.user_id = n.user_id`, orgID, users, days, lasts, runs, reports)
	if err != nil {
		return fmt.Errorf("storage: record activity of organization %d: %w", orgID, err)
	}
	return nil
}

// Activity is a user seen active at a time, outside of ingested events (an
// authenticated API request, for instance).
type Activity struct {
	UserID int64
	At     time.Time
}

// RecordActivity marks users active, in every organization they belong to,
// on the UTC days of the given times. It is called in batches.
func (s *Store) RecordActivity(ctx context.Context, acts []Activity) error {
	if len(acts) == 0 {
		return nil
	}
	users := make([]int64, len(acts))
	byUser := map[int64][]time.Time{}
	for i, a := range acts {
		users[i] = a.UserID
		byUser[a.UserID] = append(byUser[a.UserID], a.At.UTC())
	}
	return s.InTx(ctx, func(tx *Tx) error {
		var ms []struct {
			OrgID  int64 `db:"org_id"`
			UserID int64 `db:"user_id"`
		}
		if err := tx.sel(ctx, &ms, `SELECT org_id, user_id FROM memberships WHERE user_id = ANY($1) ORDER BY org_id`,
			int64Array(users)); err != nil {
			return fmt.Errorf("storage: record activity: %w", err)
		}
		byOrg := map[int64][]activityRow{}
		var orgs []int64
		for _, m := range ms {
			if _, ok := byOrg[m.OrgID]; !ok {
				orgs = append(orgs, m.OrgID)
			}
			for _, t := range byUser[m.UserID] {
				byOrg[m.OrgID] = append(byOrg[m.OrgID], activityRow{user: m.UserID, last: t,
					day: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)})
			}
		}
		for _, org := range orgs {
			// Take the organization's lock first, as ingest does, so the two
			// never wait on each other's membership rows in opposite orders.
			if _, err := tx.exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
				return fmt.Errorf("storage: record activity: %w", err)
			}
			if err := tx.applyActivity(ctx, org, byOrg[org]); err != nil {
				return err
			}
		}
		return nil
	})
}
