package storage

import (
	"context"
	"fmt"
	"time"
)

// markEventActivity marks the actors of the events just stored from
// ingest_staging active on the events' UTC days. An actor is
// matched to a member by actor_user_id (this server's user id) or, failing
// that, by actor_email. Events before since do not count.
func (tx *Tx) markEventActivity(ctx context.Context, orgID int64, since time.Time) error {
	_, err := tx.exec(ctx, `CREATE TEMP TABLE ingest_actors ON COMMIT DROP AS
		WITH actors AS (
			SELECT actor_user_id, actor_email, (ts AT TIME ZONE 'UTC')::date AS day, max(ts) AS last_at,
				count(*) FILTER (WHERE action LIKE 'run:%') AS runs,
				count(*) FILTER (WHERE action LIKE 'report:%') AS reports
			FROM ingest_staging
			WHERE seq IS NOT NULL AND ts >= $1
				AND (actor_user_id IS NOT NULL OR actor_email IS NOT NULL)
			GROUP BY 1, 2, 3
		)
		SELECT COALESCE(
				(SELECT u.id FROM users u WHERE u.id = CASE WHEN a.actor_user_id ~ '^[0-9]{1,18}$' THEN a.actor_user_id::bigint END),
				(SELECT u.id FROM users u WHERE lower(u.email) = lower(a.actor_email) LIMIT 1)) AS user_id,
			a.day, a.last_at, a.runs, a.reports
		FROM actors a`, since)
	if err != nil {
		return fmt.Errorf("storage: record activity of organization %d: %w", orgID, err)
	}
	if _, err := tx.exec(ctx, `WITH matched AS (SELECT user_id, day, last_at FROM ingest_actors WHERE user_id IS NOT NULL)`+
		upsertActivity, orgID); err != nil {
		return fmt.Errorf("storage: record activity of organization %d: %w", orgID, err)
	}
	_, err = tx.exec(ctx, `UPDATE memberships m SET run_events = m.run_events + a.runs, report_events = m.report_events + a.reports
		FROM (SELECT user_id, sum(runs) AS runs, sum(reports) AS reports FROM ingest_actors
			WHERE user_id IS NOT NULL GROUP BY user_id HAVING sum(runs) + sum(reports) > 0) a
		WHERE m.org_id = $1 AND m.user_id = a.user_id`, orgID)
	if _, derr := tx.exec(ctx, `DROP TABLE ingest_actors`); err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("storage: count runs and reports of organization %d: %w", orgID, err)
	}
	return nil
}

// upsertActivity continues a WITH clause that defines matched(user_id, day,
// last_at) for organization $1: it adds the new activity days and keeps each
// membership's last-active time and active-day count current.
const upsertActivity = `, days AS (
		INSERT INTO activity_days AS d (org_id, user_id, day, last_at)
		SELECT $1, m.user_id, x.day, max(x.last_at)
		FROM matched x JOIN memberships m ON m.org_id = $1 AND m.user_id = x.user_id
		GROUP BY m.user_id, x.day
		ON CONFLICT (org_id, day, user_id) DO UPDATE SET last_at = greatest(d.last_at, EXCLUDED.last_at)
		RETURNING d.user_id, d.last_at, (xmax = 0) AS added
	)
	UPDATE memberships m SET
		active_days = m.active_days + n.added,
		last_active_at = greatest(m.last_active_at, n.last_at)
	FROM (SELECT user_id, count(*) FILTER (WHERE added) AS added, max(last_at) AS last_at FROM days GROUP BY user_id) n
	WHERE m.org_id = $1 AND m.user_id = n.user_id`

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
	times := make([]string, len(acts))
	for i, a := range acts {
		users[i], times[i] = a.UserID, a.At.UTC().Format(time.RFC3339Nano)
	}
	return s.InTx(ctx, func(tx *Tx) error {
		var orgs []int64
		if err := tx.sel(ctx, &orgs, `SELECT DISTINCT org_id FROM memberships WHERE user_id = ANY($1) ORDER BY org_id`,
			int64Array(users)); err != nil {
			return fmt.Errorf("storage: record activity: %w", err)
		}
		for _, org := range orgs {
			// Take the organization's lock first, as ingest does, so the two
			// never wait on each other's membership rows in opposite orders.
			if _, err := tx.exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
				return fmt.Errorf("storage: record activity: %w", err)
			}
			_, err := tx.exec(ctx, `WITH matched AS (
					SELECT a.user_id, (a.at AT TIME ZONE 'UTC')::date AS day, a.at AS last_at
					FROM unnest($2::bigint[], $3::timestamptz[]) AS a(user_id, at)
				)`+upsertActivity, org, int64Array(users), pqStrings(times))
			if err != nil {
				return fmt.Errorf("storage: record activity in organization %d: %w", org, err)
			}
		}
		return nil
	})
}
