package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// bitsOrg creates an organization with n members (usernames prefix+number)
// and returns it and their ids.
func bitsOrg(t *testing.T, s *storage.Store, name string, n int) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	var org int64
	var ids []int64
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, name, "enterprise")
		if err != nil {
			return err
		}
		org = o.ID
		for i := range n {
			u, err := tx.CreateUser(ctx, storage.NewUser{Username: fmt.Sprintf("%s%03d", name, i), Name: "N", Email: fmt.Sprintf("%s%03d@x.io", name, i)})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
			if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: o.ID, UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return org, ids
}

// checkBits fails t unless the organization's day bitmaps hold exactly the
// member-days of activity_days: each day's count and set bits, and the
// member numbers dense and one per user.
func checkBits(t *testing.T, s *storage.Store, org int64) {
	t.Helper()
	var bad []string
	err := s.DB().Select(&bad, `WITH want AS (
			SELECT d.day, m.member_no FROM activity_days d
			LEFT JOIN activity_members m ON m.org_id = d.org_id AND m.user_id = d.user_id WHERE d.org_id = $1
		), have AS (
			SELECT b.day, n AS member_no FROM activity_day_bits b, generate_series(0, length(b.bits) * 8 - 1) n
			WHERE b.org_id = $1 AND get_bit(b.bits, n) = 1
		)
		SELECT format('day %s member %s: activity_days %s, bitmap %s', COALESCE(w.day, h.day), COALESCE(w.member_no, h.member_no), w.day IS NOT NULL, h.day IS NOT NULL)
		FROM want w FULL JOIN have h ON h.day = w.day AND h.member_no = w.member_no
		WHERE w.day IS NULL OR h.day IS NULL OR w.member_no IS NULL
		UNION ALL
		SELECT format('day %s: count %s, bits %s', b.day, b.users, (SELECT count(*) FROM activity_days d WHERE d.org_id = $1 AND d.day = b.day))
		FROM activity_day_bits b WHERE b.org_id = $1 AND b.users <> (SELECT count(*) FROM activity_days d WHERE d.org_id = $1 AND d.day = b.day)
		UNION ALL
		SELECT format('numbers %s..%s for %s users', min(member_no), max(member_no), count(*)) FROM activity_members WHERE org_id = $1
		HAVING count(*) > 0 AND (min(member_no) <> 0 OR max(member_no) <> count(*) - 1)
		LIMIT 20`, org)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	// The week and month bitmaps and the month counts kept at ingest are
	// those activity_bits_rebuild builds from activity_days, byte for byte.
	rows := func() map[string]string {
		var rs []struct{ K, V string }
		if err := s.DB().Select(&rs, `SELECT 'day ' || day AS k, users || ' ' || encode(bits, 'hex') AS v FROM activity_day_bits WHERE org_id = $1
			UNION ALL SELECT span::text || ' ' || start, encode(bits, 'hex') FROM activity_span_bits WHERE org_id = $1
			UNION ALL SELECT 'count ' || month, encode(days, 'hex') FROM activity_month_counts WHERE org_id = $1`, org); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range rs {
			m[r.K] = r.V
		}
		return m
	}
	kept := rows()
	if _, err := s.DB().Exec(`SELECT activity_bits_rebuild($1)`, org); err != nil {
		t.Fatal(err)
	}
	built := rows()
	for k, v := range built {
		if kept[k] != v {
			t.Errorf("%s: kept at ingest %q, rebuilt %q", k, kept[k], v)
		}
	}
	for k := range kept {
		if _, ok := built[k]; !ok {
			t.Errorf("%s: kept at ingest, not rebuilt", k)
		}
	}
	if len(built) == 0 {
		t.Error("no bitmaps")
	}
}

// Two ingests of one organization at once, on the same days, each with its
// own new members: every member-day reaches the bitmaps (none lost to the
// other's update of the same day's row), and every member gets a number of
// its own.
func TestActivityBitsConcurrentIngest(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, ids := bitsOrg(t, s, "conc", 120)
	base := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 20 {
				var rows []storage.ActivityDay
				for i := g; i < len(ids); i += 2 {
					if (i+round)%3 == 0 {
						day := base.AddDate(0, 0, round%5)
						rows = append(rows, storage.ActivityDay{UserID: ids[i], Day: day, Last: day.Add(time.Duration(i) * time.Minute), Runs: 1})
					}
				}
				var err error
				if g == 0 {
					// As the ledger does: under the log's lock.
					err = s.InTx(ctx, func(tx *storage.Tx) error {
						if _, err := tx.LockLog(ctx, org, nil, nil, nil); err != nil {
							return err
						}
						return tx.ApplyActivity(ctx, org, rows)
					})
				} else {
					acts := make([]storage.Activity, len(rows))
					for i, r := range rows {
						acts[i] = storage.Activity{UserID: r.UserID, At: r.Last}
					}
					err = s.RecordActivity(ctx, acts)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkBits(t, s, org)
	if n := storagetest.CheckActivityEqual(t, s, org, base, base.AddDate(0, 0, 6)); n != 120 {
		t.Errorf("active users = %d, want all 120", n)
	}
}

// Migration 0014 on a database that has activity: it numbers the members
// and builds the day bitmaps from activity_days, and ingest goes on from
// there.
func TestActivityBitsMigrationBackfill(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	orgA, a := bitsOrg(t, s, "mig", 40)
	orgB, b := bitsOrg(t, s, "other", 10)
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var acts []storage.Activity
	for i, id := range append(a, b...) {
		for d := range 30 {
			if (i*7+d)%4 == 0 {
				acts = append(acts, storage.Activity{UserID: id, At: day.AddDate(0, 0, d).Add(time.Duration(i%5) * time.Hour)})
			}
		}
	}
	if err := s.RecordActivity(ctx, acts); err != nil {
		t.Fatal(err)
	}
	// The database as it was before 0014: activity_days only. (RecordActivity
	// left the bitmaps' statements being prepared in the background: their
	// locks and the DROP's could deadlock, as one CI run under -race did.)
	s.WaitBackgroundPrepares()
	if _, err := s.DB().ExecContext(ctx, `DROP TABLE activity_day_bits, activity_members;
		DROP TABLE activity_span_bits, activity_month_counts;
		DROP FUNCTION activity_bits_rebuild(bigint), activity_bits_set(bytea, integer[]), activity_bits_from(integer[]),
			activity_counts_add(bytea, integer[]), activity_counts_from(integer[], integer[]);
		DELETE FROM schema_migrations WHERE version = 14`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Migrate(ctx); err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want 0014 applied", n, err)
	}
	for _, org := range []int64{orgA, orgB} {
		checkBits(t, s, org)
		if n := storagetest.CheckActivityEqual(t, s, org, day.AddDate(0, 0, -3), day.AddDate(0, 0, 40)); n == 0 {
			t.Errorf("organization %d: no active users after the backfill", org)
		}
	}
	// A new member-day after the migration: the next number, the same day's bitmap.
	if err := s.RecordActivity(ctx, []storage.Activity{{UserID: a[len(a)-1], At: day.AddDate(0, 0, 29).Add(23 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	_, c := bitsOrg(t, s, "third", 1)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access) VALUES ($1, $2, 'member', 'full', 'full')`, orgA, c[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, []storage.Activity{{UserID: c[0], At: day.AddDate(0, 0, 3)}}); err != nil {
		t.Fatal(err)
	}
	checkBits(t, s, orgA)
	storagetest.CheckActivityEqual(t, s, orgA, day, day.AddDate(0, 0, 29))
}

// Members removed, deactivated or deleted after their activity: the panels
// count what activity_days counts (their days stay; a deleted user drops
// out of the most active, leaving fewer), and a removed member's number is
// not reused.
func TestActivityBitsRemovedMembers(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, ids := bitsOrg(t, s, "gone", 14)
	day := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	var acts []storage.Activity
	for i, id := range ids {
		for d := range 10 {
			if d <= i%7 {
				acts = append(acts, storage.Activity{UserID: id, At: day.AddDate(0, 0, d).Add(time.Hour)})
			}
		}
	}
	if err := s.RecordActivity(ctx, acts); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.RemoveMembership(ctx, org, ids[6]); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, ids[13])
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE users SET deactivated_at = now() WHERE id = $1`, ids[12]); err != nil {
		t.Fatal(err)
	}
	// A member added now gets a new number, not the removed member's.
	_, c := bitsOrg(t, s, "newcomer", 1)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access) VALUES ($1, $2, 'member', 'full', 'full')`, org, c[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, []storage.Activity{{UserID: c[0], At: day.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	checkBits(t, s, org)
	for _, to := range []int{0, 3, 6, 9} {
		storagetest.CheckActivityEqual(t, s, org, day, day.AddDate(0, 0, to))
	}
}

// Many members tied on active days with the tenth: the most active are
// narrowed with the period's last days when they are odd days, and taken
// all when the period ends with a whole month; either way the ranking is
// the rollup's.
func TestActivityBitsManyTies(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, ids := bitsOrg(t, s, "tie", 150)
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var acts []storage.Activity
	for i, id := range ids {
		for d := range 120 {
			day := first.AddDate(0, 0, d)
			// Everyone on the even days to 116 (Apr 27); then the first five on
			// days 117 and 118 (one more day: above the others), the others
			// on one of them: 145 tied, on two last days. The time of day
			// is by i%7 (ties on time too, which the user id breaks).
			if d%2 == 0 && d <= 116 || i < 5 && (d == 117 || d == 118) || i >= 5 && d == 117+i%2 {
				acts = append(acts, storage.Activity{UserID: id, At: day.Add(time.Duration(i%7) * time.Hour)})
			}
		}
	}
	if err := s.RecordActivity(ctx, acts); err != nil {
		t.Fatal(err)
	}
	checkBits(t, s, org)
	for _, r := range [][2]time.Time{
		{first, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)},                  // whole months only
		{first, time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)},                  // ends on a month end
		{first.AddDate(0, 0, 3), time.Date(2026, 4, 29, 0, 0, 0, 0, time.UTC)}, // odd days at both ends
		{first.AddDate(0, 0, 10), first.AddDate(0, 0, 118)},                    // narrowed with Apr 29
		{first.AddDate(0, 0, 10), first.AddDate(0, 0, 117)},
		{first.AddDate(0, 0, 40), first.AddDate(0, 0, 41)},
	} {
		storagetest.CheckActivityEqual(t, s, org, r[0], r[1])
	}
}
