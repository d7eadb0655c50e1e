package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// Member is a member of an organization as activity matching needs it.
type Member struct {
	ID    int64  `db:"id"`
	Email string `db:"email"` // in lower case; "" when the user has none
}

// membersByActorSQL (part of LockLog's statement) finds the members of $1 among the users with the ids
// $2 or the lower-case emails $3. It probes users_pkey and users_email_lower
// once per distinct actor: the LIMIT 1 keeps each probe a subquery of its own
// (the planner cannot turn it into a join), so the plan is the same index
// lookups whatever the batch size (and the membership by its primary key) and however many users the instance has.
// A plain join of users on "id = ANY($2) OR lower(email) = ANY($3)" is
// planned as a scan of the whole users table from about a thousand actors on.
const membersByActorSQL = `WITH found AS (
		SELECT u.id, u.email FROM unnest($2::bigint[]) AS a(id)
			CROSS JOIN LATERAL (SELECT id, email FROM users WHERE id = a.id LIMIT 1) u
		UNION
		SELECT u.id, u.email FROM unnest($3::text[]) AS a(email)
			CROSS JOIN LATERAL (SELECT id, email FROM users WHERE lower(email) = a.email LIMIT 1) u
	)
	SELECT f.id, lower(COALESCE(f.email, '')) AS email FROM found f
		CROSS JOIN LATERAL (SELECT FROM memberships m WHERE m.org_id = $1 AND m.user_id = f.id LIMIT 1) m`

// ActivityDay is one member's activity on one UTC day: the latest time seen
// and how many run and report events it adds.
type ActivityDay struct {
	UserID        int64
	Day, Last     time.Time
	Runs, Reports int64
}

// ApplyActivity adds members' activity days to the rollup and keeps each
// membership's last-active time, active-day count and run and report counts
// current, in one statement. The rows must be of members of the organization.
//
// That statement returns the activity_days rows it added (not those it only
// updated); when there are any, a second one keeps the bitmaps current:
// their users get a member number on their first day (activity_members),
// their bits are set in their day's, week's and month's bitmaps
// (activity_day_bits, activity_span_bits) and their month's counts
// (activity_month_counts) go up by one. A batch that adds no member-day
// (the same members again the same day) costs no second statement: putting
// the bitmaps' work in the first one too made it plan about twice as long
// for every batch. The caller holds the organization's lock (LockLog, or
// RecordActivity's FOR UPDATE), which makes the next member number and a
// new day's bitmap row race-free; concurrent updates of one bitmap row
// would also wait for each other and set their bits on the newer row.
func (tx *Tx) ApplyActivity(ctx context.Context, orgID int64, rows []ActivityDay) error {
	if len(rows) == 0 {
		return nil
	}
	var added addedDays
	args := append([]any{orgID}, activityArgs(rows)...)
	if err := tx.hotTx().get(ctx, &added, `WITH `+activityCTEs(2)+`
		SELECT `+addedDaysColumns, args...); err != nil {
		return fmt.Errorf("storage: record activity of organization %d: %w", orgID, err)
	}
	return tx.applyActivityBits(ctx, orgID, added)
}

// activityCTEs returns the common table expressions of ApplyActivity's
// first statement: members (the rows, one per member and day), days (the
// activity_days rows added or moved; RETURNING user_id, day and whether
// added) and upd (the memberships' counts). $1 is the organization; the
// five arrays of activityArgs are $p to $p+4. AppendEvents writes a small
// batch's rows in the same statement as its events.
func activityCTEs(p int) string {
	arg := func(i int, typ string) string { return "$" + strconv.Itoa(p+i) + "::" + typ + "[]" }
	return `members AS (
			SELECT user_id, day, max(last_at) AS last_at, sum(runs) AS runs, sum(reports) AS reports
			FROM unnest(` + arg(0, "bigint") + `, ` + arg(1, "date") + `, ` + arg(2, "timestamptz") + `, ` + arg(3, "bigint") + `, ` + arg(4, "bigint") + `)
				AS a(user_id, day, last_at, runs, reports)
			GROUP BY user_id, day
		), days AS (
			INSERT INTO activity_days AS d (org_id, user_id, day, last_at)
			SELECT $1, user_id, day, last_at FROM members
			ON CONFLICT (org_id, day, user_id) DO UPDATE SET last_at = greatest(d.last_at, EXCLUDED.last_at)
			RETURNING d.user_id, d.day, (xmax = 0) AS added
		), upd AS (
			UPDATE memberships m SET
				active_days = m.active_days + COALESCE(n.added, 0),
				last_active_at = greatest(m.last_active_at, n.last_at),
				run_events = m.run_events + n.runs,
				report_events = m.report_events + n.reports
			FROM (SELECT mb.user_id, max(mb.last_at) AS last_at, sum(mb.runs) AS runs, sum(mb.reports) AS reports, max(dd.added) AS added
				FROM members mb
				LEFT JOIN (SELECT user_id, count(*) FILTER (WHERE added) AS added FROM days GROUP BY user_id) dd USING (user_id)
				GROUP BY mb.user_id) n
			WHERE m.org_id = $1 AND m.user_id = n.user_id
		)`
}

// addedDaysColumns select, after activityCTEs, the member-days the rollup
// did not have, as addedDays.
const addedDaysColumns = `(SELECT COALESCE(array_agg(user_id), '{}') FROM days WHERE added) AS users,
		(SELECT COALESCE(array_agg(to_char(day, 'YYYY-MM-DD')), '{}') FROM days WHERE added) AS days`

// addedDays are the member-days an activity statement added to the rollup.
type addedDays struct {
	Users pq.Int64Array  `db:"users"`
	Days  pq.StringArray `db:"days"`
}

// activityArgs returns rows as the five arrays activityCTEs reads.
func activityArgs(rows []ActivityDay) []any {
	var (
		users, runs, reports pq.Int64Array
		days, lasts          pq.StringArray
	)
	for _, r := range rows {
		users, days, lasts = append(users, r.UserID), append(days, r.Day.Format(time.DateOnly)), append(lasts, r.Last.Format(time.RFC3339Nano))
		runs, reports = append(runs, r.Runs), append(reports, r.Reports)
	}
	return []any{users, days, lasts, runs, reports}
}

// applyActivityBits keeps the bitmaps current for the member-days an
// activity statement added (ApplyActivity's second statement, run only when
// there are any).
func (tx *Tx) applyActivityBits(ctx context.Context, orgID int64, added addedDays) error {
	if len(added.Users) == 0 {
		return nil
	}
	_, err := tx.hotTx().exec(ctx, `WITH added AS (
			SELECT * FROM unnest($2::bigint[], $3::date[]) AS a(user_id, day)
		), numbered AS (
			INSERT INTO activity_members (org_id, member_no, user_id)
			SELECT $1, (SELECT COALESCE(max(member_no) + 1, 0) FROM activity_members WHERE org_id = $1) + row_number() OVER (ORDER BY user_id) - 1, user_id
			FROM (SELECT DISTINCT user_id FROM added) f
			WHERE NOT EXISTS (SELECT FROM activity_members n WHERE n.org_id = $1 AND n.user_id = f.user_id)
			RETURNING user_id, member_no
		), added_no AS (
			SELECT a.day, COALESCE(n.member_no, f.member_no) AS no
			FROM added a
			LEFT JOIN activity_members n ON n.org_id = $1 AND n.user_id = a.user_id
			LEFT JOIN numbered f ON f.user_id = a.user_id
		), nos AS (
			SELECT day, count(*) AS k, array_agg(no) AS nos FROM added_no GROUP BY day
		), grown AS (
			UPDATE activity_day_bits b SET users = b.users + nos.k, bits = activity_bits_set(b.bits, nos.nos)
			FROM nos WHERE b.org_id = $1 AND b.day = nos.day
		), born AS (
			INSERT INTO activity_day_bits (org_id, day, users, bits)
			SELECT $1, day, k, activity_bits_from(nos) FROM nos
			WHERE NOT EXISTS (SELECT FROM activity_day_bits b WHERE b.org_id = $1 AND b.day = nos.day)
		), spans AS (
			SELECT s.span, s.start, array_agg(a.no) AS nos FROM added_no a
			CROSS JOIN LATERAL (VALUES ('w'::"char", date_trunc('week', a.day::timestamp)::date),
				('m'::"char", date_trunc('month', a.day::timestamp)::date)) AS s(span, start)
			GROUP BY 1, 2
		), spans_grown AS (
			UPDATE activity_span_bits b SET bits = activity_bits_set(b.bits, spans.nos)
			FROM spans WHERE b.org_id = $1 AND b.span = spans.span AND b.start = spans.start
		), spans_born AS (
			INSERT INTO activity_span_bits (org_id, span, start, bits)
			SELECT $1, span, start, activity_bits_from(nos) FROM spans
			WHERE NOT EXISTS (SELECT FROM activity_span_bits b WHERE b.org_id = $1 AND b.span = spans.span AND b.start = spans.start)
		), months AS (
			SELECT date_trunc('month', day::timestamp)::date AS month, array_agg(no) AS nos FROM added_no GROUP BY 1
		), months_grown AS (
			UPDATE activity_month_counts c SET days = activity_counts_add(c.days, months.nos)
			FROM months WHERE c.org_id = $1 AND c.month = months.month
		), months_born AS (
			INSERT INTO activity_month_counts (org_id, month, days)
			SELECT $1, month, activity_counts_add('\x'::bytea, nos) FROM months
			WHERE NOT EXISTS (SELECT FROM activity_month_counts c WHERE c.org_id = $1 AND c.month = months.month)
		)
		SELECT count(*) FROM added_no`, orgID, added.Users, added.Days)
	if err != nil {
		return fmt.Errorf("storage: record the activity bitmaps of organization %d: %w", orgID, err)
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
		byOrg := map[int64][]ActivityDay{}
		var orgs []int64
		for _, m := range ms {
			if _, ok := byOrg[m.OrgID]; !ok {
				orgs = append(orgs, m.OrgID)
			}
			for _, t := range byUser[m.UserID] {
				byOrg[m.OrgID] = append(byOrg[m.OrgID], ActivityDay{UserID: m.UserID, Last: t,
					Day: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)})
			}
		}
		for _, org := range orgs {
			// Take the organization's lock first, as appends do (LockLog), so the two
			// never wait on each other's membership rows in opposite orders.
			if _, err := tx.exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
				return fmt.Errorf("storage: record activity: %w", err)
			}
			if err := tx.ApplyActivity(ctx, org, byOrg[org]); err != nil {
				return err
			}
		}
		return nil
	})
}
