package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// dashOrg creates an organization with the given users and their last
// activity (nil: never active); names are the usernames in upper case.
func dashOrg(t *testing.T, s *storage.Store, users map[string]*time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	var orgID int64
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, "dash", "enterprise")
		if err != nil {
			return err
		}
		orgID = o.ID
		names := make([]string, 0, len(users))
		for n := range users {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			u, err := tx.CreateUser(ctx, storage.NewUser{Username: n, Name: "N-" + n, Email: n + "@dash.io"})
			if err != nil {
				return err
			}
			if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: o.ID, UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, at := range users {
		if at != nil {
			if _, err := s.DB().Exec(`UPDATE memberships SET last_active_at = $1 WHERE user_id = (SELECT id FROM users WHERE username = $2)`, *at, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	return orgID
}

func usernames(p storage.OrgUsersPage) []string {
	var out []string
	for _, u := range p.Users {
		out = append(out, u.Username)
	}
	return out
}

func TestOrgUsersOrderAndPaging(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d int) *time.Time { x := now.AddDate(0, 0, -d); return &x }
	org := dashOrg(t, s, map[string]*time.Time{"a": at(1), "b": at(3), "c": nil, "d": at(2), "e": nil, "f": at(400)})
	q := storage.OrgUsersQuery{OrgID: org, ActiveSince: now.AddDate(0, -6, 0), Sort: storage.SortLastActive, Desc: true, Limit: 100}

	all, err := s.OrgUsers(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := usernames(all), []string{"a", "d", "b", "f", "e", "c"}; !slices.Equal(got, want) {
		t.Errorf("last active, newest first = %v, want %v (never active last, ties by user id in the same direction)", got, want)
	}
	q.Desc = false
	asc, _ := s.OrgUsers(ctx, q)
	if got, want := usernames(asc), []string{"f", "b", "d", "a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("last active, oldest first = %v, want %v (never active still last)", got, want)
	}

	// Forward pages of 2 visit everyone once; backward pages from the end too.
	q.Desc, q.Limit = true, 2
	var fwd []string
	for p, after := 0, ""; ; p++ {
		q.After = after
		page, err := s.OrgUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 6 {
			t.Errorf("Total = %d, want 6", page.Total)
		}
		fwd = append(fwd, usernames(page)...)
		if !page.More {
			break
		}
		after = page.Cursors[len(page.Cursors)-1]
	}
	if want := usernames(all); !slices.Equal(fwd, want) {
		t.Errorf("forward pages = %v, want %v", fwd, want)
	}
	q.After, q.Last = "", true
	var back []string
	for before := ""; ; {
		q.Before = before
		page, err := s.OrgUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		back = append(usernames(page), back...)
		if !page.More {
			break
		}
		before = page.Cursors[0]
	}
	if want := usernames(all); !slices.Equal(back, want) {
		t.Errorf("backward pages = %v, want %v", back, want)
	}
	// A cursor of another order is refused.
	q.Last, q.Before, q.Sort, q.After = false, "", storage.SortName, all.Cursors[0]
	if _, err := s.OrgUsers(ctx, q); err == nil {
		t.Error("a LAST_ACTIVE cursor was accepted for NAME order")
	}
}

func TestOrgUsersFilters(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	now := time.Now().UTC()
	recent, old := now.AddDate(0, 0, -1), now.AddDate(0, -7, 0)
	org := dashOrg(t, s, map[string]*time.Time{"ann": &recent, "bo": &old, "cy": nil})
	s.DB().Exec(`UPDATE memberships SET accepted_at = NULL WHERE user_id = (SELECT id FROM users WHERE username = 'cy')`)
	s.DB().Exec(`UPDATE memberships SET role = 'admin' WHERE user_id = (SELECT id FROM users WHERE username = 'bo')`)
	base := storage.OrgUsersQuery{OrgID: org, ActiveSince: now.AddDate(0, -6, 0), Sort: storage.SortName, Limit: 10}
	for _, tc := range []struct {
		name string
		mod  func(*storage.OrgUsersQuery)
		want []string
	}{
		{"status ACTIVE", func(q *storage.OrgUsersQuery) { q.Statuses = []string{"ACTIVE"} }, []string{"ann"}},
		{"status INACTIVE", func(q *storage.OrgUsersQuery) { q.Statuses = []string{"INACTIVE"} }, []string{"bo"}},
		{"status INVITE_PENDING", func(q *storage.OrgUsersQuery) { q.Statuses = []string{"INVITE_PENDING"} }, []string{"cy"}},
		{"multi-tenant NEVER_ACTIVE", func(q *storage.OrgUsersQuery) { q.MultiTenant, q.Statuses = true, []string{"NEVER_ACTIVE"} }, []string{"cy"}},
		{"role admin", func(q *storage.OrgUsersQuery) { q.Roles = []string{"admin"} }, []string{"bo"}},
		{"search name", func(q *storage.OrgUsersQuery) { q.Search = "n-A" }, []string{"ann"}},
		{"search email", func(q *storage.OrgUsersQuery) { q.Search = "CY@DASH" }, []string{"cy"}},
		{"search wildcard is literal", func(q *storage.OrgUsersQuery) { q.Search = "%" }, nil},
		{"name descending", func(q *storage.OrgUsersQuery) { q.Desc = true }, []string{"cy", "bo", "ann"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := base
			tc.mod(&q)
			page, err := s.OrgUsers(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := usernames(page); !slices.Equal(got, tc.want) || page.Total != len(tc.want) {
				t.Errorf("%s = %v (total %d), want %v", tc.name, got, page.Total, tc.want)
			}
		})
	}
}

func TestActivityRollups(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org := dashOrg(t, s, map[string]*time.Time{"u1": nil, "u2": nil, "u3": nil})
	d := func(day int) time.Time { return time.Date(2026, 3, day, 0, 0, 0, 0, time.UTC) }
	var ids []int64
	s.DB().Select(&ids, `SELECT id FROM users ORDER BY username`)
	mark := func(user int64, day int, hour int) {
		t.Helper()
		if err := s.RecordActivity(ctx, []storage.Activity{{UserID: user, At: d(day).Add(time.Duration(hour) * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	// u1: Mar 2, 3, 9; u2: Mar 3, 9 (later in the day than u1 on the 9th); u3: Mar 9 only.
	mark(ids[0], 2, 1)
	mark(ids[0], 3, 1)
	mark(ids[0], 9, 1)
	mark(ids[1], 3, 1)
	mark(ids[1], 9, 5)
	mark(ids[2], 9, 2)

	if n, _ := s.ActiveUsers(ctx, org, d(1), d(8)); n != 2 {
		t.Errorf("ActiveUsers(Mar 1..8) = %d, want 2", n)
	}
	daily, err := s.DailyActiveUsers(ctx, org, d(1), d(4))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(counts(daily)); got != "[0 1 2 0]" || !daily[0].Day.Equal(d(1)) {
		t.Errorf("DailyActiveUsers(Mar 1..4) = %s from %v, want [0 1 2 0] from Mar 1", got, daily[0].Day)
	}
	// Days are filled in before, between and after the days with rows, and
	// a range without any is all zeros.
	for _, tc := range []struct {
		from, to int
		want     string
	}{{9, 9, "[3]"}, {2, 10, "[1 2 0 0 0 0 0 3 0]"}, {20, 22, "[0 0 0]"}} {
		t.Run(fmt.Sprintf("Mar %d..%d", tc.from, tc.to), func(t *testing.T) {
			ds, err := s.DailyActiveUsers(ctx, org, d(tc.from), d(tc.to))
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(counts(ds)); got != tc.want || !ds[0].Day.Equal(d(tc.from)) || !ds[len(ds)-1].Day.Equal(d(tc.to)) {
				t.Errorf("DailyActiveUsers(Mar %d..%d) = %s from %v to %v, want %s", tc.from, tc.to, got, ds[0].Day, ds[len(ds)-1].Day, tc.want)
			}
		})
	}
	// Mar 2 2026 is a Monday: weeks Feb 23, Mar 2, Mar 9.
	weekly, err := s.WeeklyActiveUsers(ctx, org, d(1), d(10))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(counts(weekly)); got != "[0 2 3]" || !weekly[1].Day.Equal(d(2)) {
		t.Errorf("WeeklyActiveUsers = %s (second week %v), want [0 2 3] with weeks starting Monday", got, weekly[1].Day)
	}
	top, err := s.MostActiveUsers(ctx, org, d(1), d(31), 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	for _, u := range top {
		order = append(order, u.UserID)
		if u.User.ID != u.UserID || u.User.Username == "" {
			t.Errorf("MostActiveUsers: user %d comes with user %+v, want that user", u.UserID, u.User)
		}
	}
	// u1 has 3 active days, u2 2, u3 1.
	if want := []int64{ids[0], ids[1], ids[2]}; !slices.Equal(order, want) {
		t.Errorf("MostActiveUsers = %v, want %v", order, want)
	}
	// A tie on active days is broken by the later last activity.
	top, _ = s.MostActiveUsers(ctx, org, d(9), d(9), 10)
	if len(top) != 3 || top[0].UserID != ids[1] || top[1].UserID != ids[2] || top[2].UserID != ids[0] {
		t.Errorf("MostActiveUsers(Mar 9) = %+v, want u2 (05:00), u3 (02:00), u1 (01:00)", top)
	}
	if first, _ := s.FirstActivityDay(ctx, org); !first.Equal(d(2)) {
		t.Errorf("FirstActivityDay = %v, want %v", first, d(2))
	}
}

func counts(ds []storage.DayCount) []int {
	var out []int
	for _, d := range ds {
		out = append(out, d.Users)
	}
	return out
}
