package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
	"time"
)

// The activity panels read the day bitmaps (activitybits.go), never the
// events table. The *Rollup methods here give the same answers from
// activity_days, the per-user, per-day rollup kept current at ingest: what
// the panels read before the bitmaps, kept as the bench's baseline and the
// tests' reference.

// DayCount is a number of users for one day or week.
type DayCount struct {
	Day   time.Time `db:"day"`
	Users int       `db:"users"`
}

// ActiveUsersRollup counts the distinct users of an organization active on a day
// from `from` to `to`, both included.
func (q queries) ActiveUsersRollup(ctx context.Context, orgID int64, from, to time.Time) (int, error) {
	var n int
	err := q.getHot(ctx, &n, `SELECT count(DISTINCT user_id) FROM activity_days WHERE org_id = $1 AND day BETWEEN $2 AND $3`,
		orgID, from, to)
	if err != nil {
		return 0, fmt.Errorf("storage: active users of organization %d: %w", orgID, err)
	}
	return n, nil
}

// DailyActiveUsersRollup returns one point per day from `from` to `to`, days
// without activity included as zero. The database counts the days that
// have rows and the days between are filled in here. The count is
// count(DISTINCT user_id), which the primary key makes equal to count(*),
// because it cannot be split across parallel workers: the planner then reads
// the organization's days from the primary key in one process. With
// count(*) it chose, once activity_days held other organizations' rows too,
// a parallel scan of the whole table, which on a busy 2-core machine ran
// about 2.5 times as slowly (6 months at 10M events: 140-170 ms against
// 58-67 ms) and varied from run to run.
func (q queries) DailyActiveUsersRollup(ctx context.Context, orgID int64, from, to time.Time) ([]DayCount, error) {
	var ds []DayCount
	err := q.selHot(ctx, &ds, `SELECT day, count(DISTINCT user_id) AS users FROM activity_days
		WHERE org_id = $1 AND day BETWEEN $2 AND $3 GROUP BY day ORDER BY day`, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: daily active users of organization %d: %w", orgID, err)
	}
	return fillDays(ds, from, to), nil
}

// fillDays returns one point per UTC day from `from` to `to`: the count of
// ds (sorted by day) on that day, or zero.
func fillDays(ds []DayCount, from, to time.Time) []DayCount {
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	first, last := day(from), day(to)
	out := make([]DayCount, 0, max(0, int(last.Sub(first)/(24*time.Hour))+1))
	i := 0
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		for i < len(ds) && day(ds[i].Day).Before(d) {
			i++
		}
		p := DayCount{Day: d}
		if i < len(ds) && day(ds[i].Day).Equal(d) {
			p.Users = ds[i].Users
		}
		out = append(out, p)
	}
	return out
}

// WeeklyActiveUsersRollup returns one point per week (weeks start on Monday) that
// overlaps `from`..`to`, counting the distinct users active in that week
// within the range; weeks without activity are zero. Day is the week's
// Monday.
func (q queries) WeeklyActiveUsersRollup(ctx context.Context, orgID int64, from, to time.Time) ([]DayCount, error) {
	var ds []DayCount
	err := q.selHot(ctx, &ds, `SELECT w::date AS day, COALESCE(a.users, 0) AS users
		FROM generate_series(date_trunc('week', $2::date), date_trunc('week', $3::date), interval '1 week') AS w
		LEFT JOIN (SELECT date_trunc('week', day) AS week, count(DISTINCT user_id) AS users FROM activity_days
			WHERE org_id = $1 AND day BETWEEN $2 AND $3 GROUP BY 1) a ON a.week = w
		ORDER BY w`, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: weekly active users of organization %d: %w", orgID, err)
	}
	return ds, nil
}

// UserActivity is a user's activity within a range.
type UserActivity struct {
	UserID     int64     `db:"user_id"`
	ActiveDays int       `db:"active_days"`
	LastActive time.Time `db:"last_active"`
	entity.
		// User is filled in by MostActiveUsers, which the dashboard shows by
		// name: reading them with the ranking spares a second round trip.
		User
}

// MostActiveUsersRollup returns the limit users with the most active days from
// `from` to `to`, ties broken by the later last activity, then by user id,
// each with the user.
func (q queries) MostActiveUsersRollup(ctx context.Context, orgID int64, from, to time.Time, limit int) ([]UserActivity, error) {
	var us []UserActivity
	err := q.selHot(ctx, &us, `SELECT a.user_id, a.active_days, a.last_active, u.id, u.username, u.name,
			COALESCE(u.email, '') AS email, u.instance_admin, u.service_account_team, u.default_org_id,
			u.deactivated_at, u.created_at
		FROM (SELECT user_id, count(*) AS active_days, max(last_at) AS last_active
			FROM activity_days WHERE org_id = $1 AND day BETWEEN $2 AND $3
			GROUP BY user_id ORDER BY active_days DESC, last_active DESC, user_id LIMIT $4) a
		JOIN users u ON u.id = a.user_id
		ORDER BY a.active_days DESC, a.last_active DESC, a.user_id`, orgID, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: most active users of organization %d: %w", orgID, err)
	}
	return us, nil
}

// FirstActivityDay returns the organization's earliest day with activity,
// or the zero time when there is none.
func (q queries) FirstActivityDay(ctx context.Context, orgID int64) (time.Time, error) {
	var t *time.Time
	if err := q.getHot(ctx, &t, `SELECT min(day) FROM activity_days WHERE org_id = $1`, orgID); err != nil {
		return time.Time{}, fmt.Errorf("storage: first activity of organization %d: %w", orgID, err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}
