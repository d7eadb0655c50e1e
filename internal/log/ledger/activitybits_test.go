package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The activity panels read from the day bitmaps equal those read from the
// activity_days rollup, for every period of both deployment families and
// some odd ranges, on generated activity: two organizations sharing some
// users, one with a multi-tenant cut-off, activity from ingested events and
// from API requests (RecordActivity), members whose day sets tie (some at
// the same time of day too, so the user id decides), days without anyone,
// and members deactivated, removed or deleted afterwards.
func TestActivityBitmapsEqualRollups(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	today := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	first := today.AddDate(0, 0, -420)
	if err := s.EnsurePartitions(ctx, first, now); err != nil {
		t.Fatal(err)
	}
	cutoff := today.AddDate(0, -5, 0) // the multi-tenant organization's
	type member struct {
		id    int64
		email string
	}
	var ent, mt []member
	orgs := map[string]int64{}
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		for _, name := range []string{"ent", "mt"} {
			o, err := tx.CreateOrganization(ctx, name, "enterprise")
			if err != nil {
				return err
			}
			orgs[name] = o.ID
		}
		for i := range 90 {
			email := fmt.Sprintf("u%03d@x.io", i)
			u, err := tx.CreateUser(ctx, storage.NewUser{Username: fmt.Sprintf("u%03d", i), Name: "U", Email: email})
			if err != nil {
				return err
			}
			m := member{u.ID, email}
			if i < 75 {
				ent = append(ent, m)
				if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: orgs["ent"], UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
					return err
				}
			}
			if i >= 60 {
				mt = append(mt, m)
				if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: orgs["mt"], UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Member i is active on day d when (d + i/3) % (2 + i/3 % 6) == 0: groups
	// of three share their days; the first two of a group are active at the
	// same hour. Days 150 to 170 have nobody. Even days come from ingested
	// events, odd days from API requests.
	active := func(i, d int) (bool, time.Duration) {
		if d >= 150 && d <= 170 {
			return false, 0
		}
		g := i / 3
		if (d+g)%(2+g%6) != 0 {
			return false, 0
		}
		h := time.Duration(8+min(i%3, 1)) * time.Hour
		return true, h + time.Duration(g%4)*time.Minute
	}
	for name, ms := range map[string][]member{"ent": ent, "mt": mt} {
		since := time.Time{}
		if name == "mt" {
			since = cutoff
		}
		var batch []ledger.IngestEvent
		var acts []storage.Activity
		flush := func() {
			if _, err := ledger.Ingest(ctx, s, orgs[name], batch, since); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		for d := range 421 {
			day := first.AddDate(0, 0, d)
			for i, m := range ms {
				ok, at := active(i, d)
				if !ok {
					continue
				}
				if d%2 == 1 {
					if day.Before(since) {
						continue // the test's stand-in for the cut-off of API activity
					}
					acts = append(acts, storage.Activity{UserID: m.id, At: day.Add(at)})
					continue
				}
				e := ev(fmt.Sprintf("%s-%d-%d", name, d, i), audit.RunUpdate, day.Add(at))
				if i%2 == 0 {
					e.ActorEmail = m.email
				} else {
					e.ActorUserID = fmt.Sprint(m.id)
				}
				batch = append(batch, e)
				if len(batch) == 300 {
					flush()
				}
			}
		}
		flush()
		if err := s.RecordActivity(ctx, acts); err != nil {
			t.Fatal(err)
		}
	}
	// Afterwards: u010 deactivated, u020 removed from ent, u070 (in both)
	// deleted.
	if _, err := s.DB().ExecContext(ctx, `UPDATE users SET deactivated_at = now() WHERE username = 'u010'`); err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.RemoveMembership(ctx, orgs["ent"], ent[20].id); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, ent[70].id)
	})
	if err != nil {
		t.Fatal(err)
	}
	var before int
	if err := s.DB().GetContext(ctx, &before, `SELECT count(*) FROM activity_days a JOIN users u ON u.id = a.user_id
		WHERE a.org_id = $1 AND a.day < $2 AND u.username >= 'u075'`, orgs["mt"], cutoff); err != nil || before != 0 {
		// (RecordActivity marks u060..u074's API requests in ent in mt too.)
		t.Errorf("multi-tenant organization: %d activity days before the cut-off of its own members (%v), want none", before, err)
	}
	ranges := map[string][2]time.Time{
		"LAST_7_DAYS":    {today.AddDate(0, 0, -6), today},
		"LAST_30_DAYS":   {today.AddDate(0, 0, -29), today},
		"LAST_90_DAYS":   {today.AddDate(0, 0, -89), today},
		"LAST_3_MONTHS":  {today.AddDate(0, -3, 1), today},
		"LAST_6_MONTHS":  {today.AddDate(0, -6, 1), today},
		"LAST_12_MONTHS": {today.AddDate(0, -12, 1), today},
		"ALL_TIME":       {first, today},
		"gap":            {first.AddDate(0, 0, 150), first.AddDate(0, 0, 170)},
		"around the gap": {first.AddDate(0, 0, 145), first.AddDate(0, 0, 175)},
		"one day":        {first.AddDate(0, 0, 12), first.AddDate(0, 0, 12)},
		"before any":     {first.AddDate(0, 0, -30), first.AddDate(0, 0, -1)},
	}
	for name, org := range orgs {
		for rn, r := range ranges {
			t.Run(name+"/"+rn, func(t *testing.T) {
				n := storagetest.CheckActivityEqual(t, s, org, r[0], r[1])
				if (rn == "gap" || rn == "before any") != (n == 0) && !(name == "mt" && r[1].Before(cutoff)) {
					t.Errorf("%d active users", n)
				}
			})
		}
	}
}
