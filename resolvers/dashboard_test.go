package resolvers_test

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// memberRow is a Member as the tests read it.
type memberRow struct {
	Username          string
	Status            string
	LastActiveDisplay string
	LastActiveAt      *time.Time
	ActiveDays        int
	ReportCount       *int
	RunCount          *int
}

// memberFields selects memberRow.
const memberFields = `username status lastActiveDisplay lastActiveAt activeDays reportCount runCount`

// members returns acme's users as username sees them, with args given to
// the users field.
func (e *env) members(username, args string) (total int, rows map[string]memberRow) {
	e.t.Helper()
	var data struct {
		Organization struct {
			Users struct {
				TotalCount int
				Nodes      []memberRow
			}
		}
	}
	e.mustQuery(username, `{ organization(name: "acme") { users(`+args+`) { totalCount nodes { `+memberFields+` } } } }`, nil, &data)
	rows = map[string]memberRow{}
	for _, n := range data.Organization.Users.Nodes {
		rows[n.Username] = n
	}
	return data.Organization.Users.TotalCount, rows
}

func TestMemberStatusSelfManaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "alice")
	e.addUsers("acme", "member", "recent", "stale", "idle", "gone")
	e.invite("acme", "invitee")
	// Six months before now is 2026-04-14T15:30:00Z.
	e.active("recent", now.AddDate(0, -6, 1))
	e.active("stale", now.AddDate(0, -6, -1))
	e.active("gone", now.Add(-time.Hour))
	e.deactivate("gone")

	_, got := e.members("alice", "first: 100")
	for _, tc := range []struct {
		username, status, display string
		lastActive                string // RFC 3339, "" for null
	}{
		{"invitee", "INVITE_PENDING", "Invite pending", ""},
		{"gone", "DEACTIVATED", "Deactivated", "2026-10-14T14:30:00Z"},
		{"recent", "ACTIVE", "2026-04-15T15:30:00Z", "2026-04-15T15:30:00Z"},
		{"stale", "INACTIVE", "-", "2026-04-13T15:30:00Z"},
		{"idle", "INACTIVE", "-", ""},
		{"alice", "INACTIVE", "-", ""},
	} {
		t.Run(tc.username, func(t *testing.T) {
			m, ok := got[tc.username]
			if !ok {
				t.Errorf("users: %s missing", tc.username)
				return
			}
			if m.Status != tc.status || m.LastActiveDisplay != tc.display {
				t.Errorf("%s: status %s, lastActiveDisplay %q; want %s, %q", tc.username, m.Status, m.LastActiveDisplay, tc.status, tc.display)
			}
			if gotAt := formatTime(m.LastActiveAt); gotAt != tc.lastActive {
				t.Errorf("%s: lastActiveAt = %q, want %q", tc.username, gotAt, tc.lastActive)
			}
			if m.ReportCount != nil || m.RunCount != nil {
				t.Errorf("%s: reportCount %v, runCount %v in self-managed mode, want null", tc.username, m.ReportCount, m.RunCount)
			}
		})
	}
	if len(got) != 6 {
		t.Errorf("users = %d members, want 6", len(got))
	}
}

func TestMemberStatusMultiTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.MultiTenant)
	e.addUsers("acme", "admin", "alice")
	e.addUsers("acme", "member", "early", "late", "never")
	// The cut-off is 2025-05-08: the second before it does not count, the
	// instant itself does.
	e.ingest("alice", "acme", `{"action":"run:update","timestamp":"2025-05-07T23:59:59Z","actor_email":"early@x.io"}
{"action":"run:update","timestamp":"2025-05-08T00:00:00Z","actor_email":"late@x.io"}
`)

	_, got := e.members("alice", "first: 100")
	for _, tc := range []struct {
		username, status, display string
		activeDays, runs          int
	}{
		{"early", "NEVER_ACTIVE", "-", 0, -1},
		{"never", "NEVER_ACTIVE", "-", 0, 0},
		{"alice", "NEVER_ACTIVE", "-", 0, 0},
		{"late", "ACTIVE", "2025-05-08T00:00:00Z", 1, 1},
	} {
		t.Run(tc.username, func(t *testing.T) {
			m, ok := got[tc.username]
			if !ok {
				t.Errorf("users: %s missing", tc.username)
				return
			}
			if m.Status != tc.status || m.LastActiveDisplay != tc.display || m.ActiveDays != tc.activeDays {
				t.Errorf("%s: status %s, lastActiveDisplay %q, activeDays %d; want %s, %q, %d",
					tc.username, m.Status, m.LastActiveDisplay, m.ActiveDays, tc.status, tc.display, tc.activeDays)
			}
			if m.RunCount == nil || m.ReportCount == nil {
				t.Errorf("%s: runCount %v, reportCount %v in multi-tenant mode, want numbers", tc.username, m.RunCount, m.ReportCount)
			} else if tc.runs >= 0 && *m.RunCount != tc.runs {
				t.Errorf("%s: runCount = %d, want %d", tc.username, *m.RunCount, tc.runs)
			}
		})
	}
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// count and series are the activity panels as the tests read them.
type count struct {
	Period   string
	From, To time.Time
	Count    int
}

type series struct {
	Period   string
	From, To time.Time
	Points   []point
}

type point struct {
	Date        time.Time
	ActiveUsers int
}

// activity runs a selection of acme's activity panels as alice.
func (e *env) activity(selection string, out any) {
	e.t.Helper()
	var data struct {
		Organization struct{ Activity json.RawMessage }
	}
	e.mustQuery("alice", `{ organization(name: "acme") { activity { `+selection+` } } }`, nil, &data)
	if err := json.Unmarshal(data.Organization.Activity, out); err != nil {
		e.t.Fatalf("activity %s: %v", data.Organization.Activity, err)
	}
}

// periodCase is a period a mode offers, its first day at now, and how many
// of the seeded users were active in it.
type periodCase struct {
	period string
	from   time.Time
	users  int
}

// checkPeriods asks panel for each period and checks its bounds and count;
// then asks for each period the mode does not offer and checks the error
// names every one it does.
func checkPeriods(t *testing.T, e *env, panel string, cases []periodCase, refused []string) {
	t.Helper()
	today := day(2026, 10, 14)
	for _, tc := range cases {
		t.Run(tc.period, func(t *testing.T) {
			var got map[string]count
			e.activity(fmt.Sprintf(`c: %s(period: %s) { period from to count }`, panel, tc.period), &got)
			c := got["c"]
			if c.Period != tc.period || !c.From.Equal(tc.from) || !c.To.Equal(today) || c.Count != tc.users {
				t.Errorf("%s(%s) = %s %s..%s count %d; want %s %s..%s count %d", panel, tc.period,
					c.Period, c.From.Format(time.DateOnly), c.To.Format(time.DateOnly), c.Count,
					tc.period, tc.from.Format(time.DateOnly), today.Format(time.DateOnly), tc.users)
			}
		})
	}
	for _, p := range refused {
		q := fmt.Sprintf(`{ organization(name: "acme") { activity { %s(period: %s) { count } } } }`, panel, p)
		err := e.queryError("alice", q, nil)
		for _, tc := range cases {
			if !strings.Contains(err.Message, tc.period) {
				t.Errorf("%s(%s) error %q does not name the allowed %s", panel, p, err.Message, tc.period)
			}
		}
	}
}

// checkOtherModePanels checks that each panel of the other mode is an error.
func checkOtherModePanels(t *testing.T, e *env, panels ...string) {
	t.Helper()
	for _, p := range panels {
		_, errs := e.query("alice", `{ organization(name: "acme") { activity { `+p+` { period } } } }`, nil)
		if len(errs) != 1 || fmt.Sprint(errs[0].Path) != fmt.Sprintf("[organization activity %s]", p) {
			t.Errorf("%s in %s mode: errors %+v, want one error at organization.activity.%s", p, e.mode, errs, p)
		}
	}
}

func TestActivityPeriodsSelfManaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "alice")
	// One user on each side of each period's first day (now is 2026-10-14).
	seeds := []struct {
		user string
		at   []time.Time
	}{
		{"today", []time.Time{at(2026, 10, 14, 9, 0, 0), at(2026, 9, 15, 8, 0, 0)}},
		{"d30", []time.Time{at(2026, 9, 15, 0, 30, 0)}},
		{"d31", []time.Time{at(2026, 9, 14, 23, 30, 0)}},
		{"m3", []time.Time{at(2026, 7, 15, 12, 0, 0)}},
		{"m3out", []time.Time{at(2026, 7, 14, 12, 0, 0)}},
		{"m6", []time.Time{at(2026, 4, 15, 12, 0, 0)}},
		{"m6out", []time.Time{at(2026, 4, 14, 12, 0, 0)}},
		{"m12", []time.Time{at(2025, 10, 15, 12, 0, 0)}},
		{"old", []time.Time{at(2025, 1, 20, 12, 0, 0)}},
	}
	for _, s := range seeds {
		e.addUsers("acme", "member", s.user)
		e.active(s.user, s.at...)
	}

	var defaults struct {
		Total count
		Over  series
	}
	e.activity(`total: totalActiveUsers { period from to count } over: usersActiveOverTime { period from to points { date activeUsers } }`, &defaults)
	if c := defaults.Total; c.Period != "LAST_3_MONTHS" || !c.From.Equal(day(2026, 7, 15)) || c.Count != 4 {
		t.Errorf("totalActiveUsers = %+v, want LAST_3_MONTHS from 2026-07-15 with 4 users", c)
	}
	over := defaults.Over
	if over.Period != "LAST_6_MONTHS" || !over.From.Equal(day(2026, 4, 15)) || !over.To.Equal(day(2026, 10, 14)) {
		t.Errorf("usersActiveOverTime = %s %v..%v, want LAST_6_MONTHS 2026-04-15..2026-10-14", over.Period, over.From, over.To)
	}
	checkDaily(t, over, map[time.Time]int{
		day(2026, 4, 15): 1, day(2026, 7, 14): 1, day(2026, 7, 15): 1,
		day(2026, 9, 14): 1, day(2026, 9, 15): 2, day(2026, 10, 14): 1,
	})
	var all map[string]series
	e.activity(`s: usersActiveOverTime(period: ALL_TIME) { period from to points { date activeUsers } }`, &all)
	if s := all["s"]; !s.From.Equal(day(2025, 1, 20)) || !s.To.Equal(day(2026, 10, 14)) {
		t.Errorf("usersActiveOverTime(ALL_TIME) = %v..%v, want from the first day with activity, 2025-01-20, to 2026-10-14", s.From, s.To)
	} else if len(s.Points) != 633 {
		t.Errorf("usersActiveOverTime(ALL_TIME) has %d points, want 633", len(s.Points))
	}

	checkPeriods(t, e, "totalActiveUsers", []periodCase{
		{"LAST_30_DAYS", day(2026, 9, 15), 2},
		{"LAST_3_MONTHS", day(2026, 7, 15), 4},
		{"LAST_6_MONTHS", day(2026, 4, 15), 6},
		{"LAST_12_MONTHS", day(2025, 10, 15), 8},
		{"ALL_TIME", day(2025, 1, 20), 9},
	}, []string{"LAST_7_DAYS", "LAST_90_DAYS"})
	checkOtherModePanels(t, e, "activeUserCount", "weeklyActiveUsers", "mostActiveUsers")
}

// checkDaily checks that s has one point per day from s.From to s.To, with
// the counts in want and zero on every other day.
func checkDaily(t *testing.T, s series, want map[time.Time]int) {
	t.Helper()
	n := int(s.To.Sub(s.From).Hours()/24) + 1
	if len(s.Points) != n {
		t.Fatalf("%s series has %d points, want %d (one per day from %v to %v)", s.Period, len(s.Points), n, s.From, s.To)
	}
	for i, p := range s.Points {
		if d := s.From.AddDate(0, 0, i); !p.Date.Equal(d) {
			t.Errorf("point %d is dated %v, want %v", i, p.Date, d)
		}
		if w := want[p.Date.UTC()]; p.ActiveUsers != w {
			t.Errorf("point %s: %d active users, want %d", p.Date.Format(time.DateOnly), p.ActiveUsers, w)
		}
	}
}

func TestActivityPeriodsMultiTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.MultiTenant)
	e.addUsers("acme", "admin", "alice")
	seeds := []struct {
		user string
		at   time.Time
	}{
		{"w7", at(2026, 10, 8, 0, 0, 0)},
		{"w7out", at(2026, 10, 7, 23, 59, 59)},
		{"d90", at(2026, 7, 17, 12, 0, 0)},
		{"d90out", at(2026, 7, 16, 12, 0, 0)},
		{"m6", at(2026, 4, 15, 12, 0, 0)},
		{"m12", at(2025, 10, 15, 12, 0, 0)},
		{"old", at(2025, 10, 14, 12, 0, 0)},
	}
	for _, s := range seeds {
		e.addUsers("acme", "member", s.user)
		e.active(s.user, s.at)
	}

	var defaults struct {
		Count  count
		Weekly series
		Most   struct {
			Period   string
			From, To time.Time
		}
	}
	e.activity(`count: activeUserCount { period from to count } weekly: weeklyActiveUsers { period from to points { date activeUsers } }
		most: mostActiveUsers { period from to }`, &defaults)
	for name, p := range map[string][3]any{
		"activeUserCount":   {defaults.Count.Period, defaults.Count.From, defaults.Count.To},
		"weeklyActiveUsers": {defaults.Weekly.Period, defaults.Weekly.From, defaults.Weekly.To},
		"mostActiveUsers":   {defaults.Most.Period, defaults.Most.From, defaults.Most.To},
	} {
		if p[0] != "LAST_30_DAYS" || !p[1].(time.Time).Equal(day(2026, 9, 15)) || !p[2].(time.Time).Equal(day(2026, 10, 14)) {
			t.Errorf("%s default period = %v %v..%v, want LAST_30_DAYS 2026-09-15..2026-10-14", name, p[0], p[1], p[2])
		}
	}
	if defaults.Count.Count != 2 {
		t.Errorf("activeUserCount = %d, want 2", defaults.Count.Count)
	}

	checkPeriods(t, e, "activeUserCount", []periodCase{
		{"LAST_7_DAYS", day(2026, 10, 8), 1},
		{"LAST_30_DAYS", day(2026, 9, 15), 2},
		{"LAST_90_DAYS", day(2026, 7, 17), 3},
		{"LAST_6_MONTHS", day(2026, 4, 15), 5},
		{"LAST_12_MONTHS", day(2025, 10, 15), 6},
	}, []string{"LAST_3_MONTHS", "ALL_TIME"})
	checkOtherModePanels(t, e, "totalActiveUsers", "usersActiveOverTime")
}

func TestWeeklyActiveUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.MultiTenant)
	e.addUsers("acme", "admin", "alice")
	e.addUsers("acme", "member", "a", "b", "c", "d")
	// LAST_30_DAYS is Tuesday 2026-09-15 to Wednesday 2026-10-14; its weeks
	// start on Mondays 09-14, 09-21, 09-28, 10-05 and 10-12.
	e.active("a", at(2026, 9, 15, 10, 0, 0), at(2026, 9, 16, 10, 0, 0), at(2026, 10, 12, 0, 0, 0))
	e.active("b", at(2026, 9, 20, 23, 59, 0), at(2026, 10, 13, 10, 0, 0)) // a Sunday ends its week
	e.active("c", at(2026, 10, 5, 10, 0, 0), at(2026, 10, 14, 10, 0, 0))
	e.active("d", at(2026, 9, 1, 10, 0, 0)) // before the period

	var got map[string]series
	e.activity(`w: weeklyActiveUsers { period from to points { date activeUsers } }
		w7: weeklyActiveUsers(period: LAST_7_DAYS) { period from to points { date activeUsers } }`, &got)
	want := []point{
		{day(2026, 9, 14), 2}, {day(2026, 9, 21), 0}, {day(2026, 9, 28), 0}, {day(2026, 10, 5), 1}, {day(2026, 10, 12), 3},
	}
	if !samePoints(got["w"].Points, want) {
		t.Errorf("weeklyActiveUsers points = %v, want %v", got["w"].Points, want)
	}
	// LAST_7_DAYS, Thursday 10-08 to Wednesday 10-14, overlaps two weeks.
	if w7 := got["w7"]; len(w7.Points) != 2 || !w7.Points[0].Date.Equal(day(2026, 10, 5)) || !w7.Points[1].Date.Equal(day(2026, 10, 12)) {
		t.Errorf("weeklyActiveUsers(LAST_7_DAYS) points = %v, want the weeks of 2026-10-05 and 2026-10-12", w7.Points)
	} else if w7.Points[1].ActiveUsers != 3 {
		t.Errorf("weeklyActiveUsers(LAST_7_DAYS) week of 2026-10-12 = %d users, want 3", w7.Points[1].ActiveUsers)
	}
}

func samePoints(a, b []point) bool {
	return slices.EqualFunc(a, b, func(x, y point) bool { return x.Date.Equal(y.Date) && x.ActiveUsers == y.ActiveUsers })
}

func TestMostActiveUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.MultiTenant)
	e.addUsers("acme", "admin", "alice")
	// daysBack returns n activity times at noon, today and the days before.
	daysBack := func(n int) []time.Time {
		var ts []time.Time
		for i := range n {
			ts = append(ts, at(2026, 10, 14-i, 12, 0, 0))
		}
		return ts
	}
	seeds := []struct {
		user string
		at   []time.Time
	}{
		// m01 and m02 tie on 3 days; m02 was active later on the same day.
		{"m01", []time.Time{at(2026, 10, 8, 9, 0, 0), at(2026, 10, 9, 9, 0, 0), at(2026, 10, 10, 9, 0, 0)}},
		{"m02", []time.Time{at(2026, 10, 6, 18, 0, 0), at(2026, 10, 7, 18, 0, 0), at(2026, 10, 10, 18, 0, 0)}},
		{"m03", daysBack(12)},
		{"m04", daysBack(11)},
		{"m05", daysBack(10)},
		{"m06", daysBack(9)},
		{"m07", daysBack(8)},
		{"m08", daysBack(7)},
		{"m09", daysBack(6)},
		{"m10", daysBack(5)},
		{"m11", []time.Time{at(2026, 10, 1, 12, 0, 0)}},
		{"m12", []time.Time{at(2026, 9, 15, 12, 0, 0), at(2026, 9, 16, 12, 0, 0)}},
	}
	for _, s := range seeds {
		e.addUsers("acme", "member", s.user)
		e.active(s.user, s.at...)
	}
	// m12 was very active before the period: 20 days that must not count.
	var before []time.Time
	for i := range 20 {
		before = append(before, at(2026, 8, 20+i, 12, 0, 0))
	}
	e.active("m12", before...)

	var got map[string]struct {
		Users []struct {
			Rank         int
			User         struct{ Username string }
			ActiveDays   int
			LastActiveAt time.Time
		}
	}
	e.activity(`top: mostActiveUsers { users { rank user { username } activeDays lastActiveAt } }`, &got)
	want := []struct {
		user string
		days int
		last time.Time
	}{
		{"m03", 12, at(2026, 10, 14, 12, 0, 0)}, {"m04", 11, at(2026, 10, 14, 12, 0, 0)},
		{"m05", 10, at(2026, 10, 14, 12, 0, 0)}, {"m06", 9, at(2026, 10, 14, 12, 0, 0)},
		{"m07", 8, at(2026, 10, 14, 12, 0, 0)}, {"m08", 7, at(2026, 10, 14, 12, 0, 0)},
		{"m09", 6, at(2026, 10, 14, 12, 0, 0)}, {"m10", 5, at(2026, 10, 14, 12, 0, 0)},
		{"m02", 3, at(2026, 10, 10, 18, 0, 0)}, {"m01", 3, at(2026, 10, 10, 9, 0, 0)},
	}
	users := got["top"].Users
	if len(users) != len(want) {
		t.Fatalf("mostActiveUsers = %+v, want the top %d", users, len(want))
	}
	for i, w := range want {
		u := users[i]
		if u.Rank != i+1 || u.User.Username != w.user || u.ActiveDays != w.days || !u.LastActiveAt.Equal(w.last) {
			t.Errorf("mostActiveUsers[%d] = rank %d %s %d days last %v; want rank %d %s %d days last %v",
				i, u.Rank, u.User.Username, u.ActiveDays, u.LastActiveAt, i+1, w.user, w.days, w.last)
		}
	}
}

// connEnv is acme with eleven users of every status, two teams, names that
// sort differently from usernames, and two users last active at the same
// instant.
func connEnv(t *testing.T) *env {
	e := newEnv(t, deployment.SelfManaged)
	e.add("acme",
		member{username: "alice", name: "Zed Alice", role: "admin"},
		member{username: "bob"},
		member{username: "carol", name: "carol Smith", role: "viewer"},
		member{username: "dave", name: "Dave Jones"},
		member{username: "erin", name: "erin"},
	)
	e.invite("acme", "frank")
	e.add("acme",
		member{username: "gina", name: "Gina"},
		member{username: "hank", name: "hank"},
		member{username: "ivan", name: "Ivan", role: "admin"},
		member{username: "judy", name: "Judy"},
		member{username: "kate", name: "Kate", email: "k.t@corp.example"},
	)
	e.team("acme", "ml", "bob", "carol")
	e.team("acme", "data", "dave", "ivan")
	e.active("alice", now.Add(-24*time.Hour))
	e.active("judy", now.Add(-25*time.Hour))
	e.active("gina", now.Add(-48*time.Hour))
	e.active("dave", now.Add(-72*time.Hour))
	e.active("kate", now.Add(-72*time.Hour))
	e.active("ivan", now.Add(-5*24*time.Hour))
	e.active("bob", now.Add(-10*24*time.Hour))
	e.active("erin", now.Add(-300*24*time.Hour))
	e.deactivate("gina")
	return e
}

// everyone is connEnv's users.
var everyone = []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy", "kate"}

func TestUsersConnection(t *testing.T) {
	t.Parallel()
	e := connEnv(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Order", testUsersOrder},
		{"Paging", testUsersPaging},
		{"Filters", testUsersFilters},
		{"BadArguments", testUsersBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e.with(t)) })
	}
}

// userOrders are the orders of connEnv's users; users within one group
// may come in any order among themselves.
var userOrders = []struct {
	orderBy string
	groups  [][]string
}{
	{"", [][]string{{"alice"}, {"judy"}, {"gina"}, {"dave", "kate"}, {"ivan"}, {"bob"}, {"erin"}, {"carol", "frank", "hank"}}},
	{"{field: LAST_ACTIVE, direction: DESC}", [][]string{{"alice"}, {"judy"}, {"gina"}, {"dave", "kate"}, {"ivan"}, {"bob"}, {"erin"}, {"carol", "frank", "hank"}}},
	{"{field: LAST_ACTIVE, direction: ASC}", [][]string{{"erin"}, {"bob"}, {"ivan"}, {"dave", "kate"}, {"gina"}, {"judy"}, {"alice"}, {"carol", "frank", "hank"}}},
	{"{field: NAME, direction: ASC}", single("bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy", "kate", "alice")},
	{"{field: NAME, direction: DESC}", single("alice", "kate", "judy", "ivan", "hank", "gina", "frank", "erin", "dave", "carol", "bob")},
	{"{field: DATE_ADDED, direction: ASC}", single(everyone...)},
	{"{field: DATE_ADDED, direction: DESC}", single("kate", "judy", "ivan", "hank", "gina", "frank", "erin", "dave", "carol", "bob", "alice")},
}

func single(names ...string) [][]string {
	gs := make([][]string, len(names))
	for i, n := range names {
		gs[i] = []string{n}
	}
	return gs
}

// inGroups reports whether names lists the groups in order.
func inGroups(names []string, groups [][]string) bool {
	i := 0
	for _, g := range groups {
		if i+len(g) > len(names) {
			return false
		}
		got := slices.Clone(names[i : i+len(g)])
		want := slices.Clone(g)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			return false
		}
		i += len(g)
	}
	return i == len(names)
}

type usersPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct{ Username string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func (p usersPage) usernames() []string {
	var ns []string
	for _, e := range p.Edges {
		ns = append(ns, e.Node.Username)
	}
	return ns
}

// usersPage runs users(args) on acme as username.
func (e *env) usersPage(username, args string) usersPage {
	e.t.Helper()
	var data struct{ Organization struct{ Users usersPage } }
	e.mustQuery(username, `{ organization(name: "acme") { users(`+args+`) {
		totalCount edges { cursor node { username } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`, nil, &data)
	return data.Organization.Users
}

func orderArg(orderBy string) string {
	if orderBy == "" {
		return ""
	}
	return ", orderBy: " + orderBy
}

func testUsersOrder(t *testing.T, e *env) {
	for _, o := range userOrders {
		t.Run(cmp.Or(o.orderBy, "default"), func(t *testing.T) {
			got := e.usersPage("alice", "first: 100"+orderArg(o.orderBy)).usernames()
			if !inGroups(got, o.groups) {
				t.Errorf("users(orderBy: %s) = %v, want %v", o.orderBy, got, o.groups)
			}
		})
	}
}

func testUsersPaging(t *testing.T, e *env) {
	for _, o := range userOrders {
		t.Run(cmp.Or(o.orderBy, "default"), func(t *testing.T) {
			all := e.usersPage("alice", "first: 100"+orderArg(o.orderBy)).usernames()

			// Forward, two at a time: dave and kate, tied, straddle a page end.
			var fwd []string
			after := ""
			for i := 0; ; i++ {
				args := "first: 2" + orderArg(o.orderBy)
				if after != "" {
					args += fmt.Sprintf(", after: %q", after)
				}
				p := e.usersPage("alice", args)
				checkPageInfo(t, o.orderBy+" forward", i, p, len(fwd)+len(p.Edges) < len(all), i > 0)
				fwd = append(fwd, p.usernames()...)
				if !p.PageInfo.HasNextPage || i > len(all) {
					if p.PageInfo.EndCursor != nil {
						if rest := e.usersPage("alice", fmt.Sprintf("first: 2%s, after: %q", orderArg(o.orderBy), *p.PageInfo.EndCursor)); len(rest.Edges) != 0 || rest.PageInfo.HasNextPage || rest.PageInfo.EndCursor != nil {
							t.Errorf("%s: page after the last = %v, hasNextPage %v, endCursor %v; want empty, false, null",
								o.orderBy, rest.usernames(), rest.PageInfo.HasNextPage, rest.PageInfo.EndCursor)
						}
					}
					break
				}
				after = *p.PageInfo.EndCursor
			}
			if !slices.Equal(fwd, all) {
				t.Errorf("users(%s) paged forward = %v, want %v", o.orderBy, fwd, all)
			}

			// Backward, three at a time, from the end.
			var bwd []string
			before := ""
			for i := 0; ; i++ {
				args := "last: 3" + orderArg(o.orderBy)
				if before != "" {
					args += fmt.Sprintf(", before: %q", before)
				}
				p := e.usersPage("alice", args)
				checkPageInfo(t, o.orderBy+" backward", i, p, i > 0, len(bwd)+len(p.Edges) < len(all))
				bwd = append(p.usernames(), bwd...)
				if !p.PageInfo.HasPreviousPage || i > len(all) {
					break
				}
				before = *p.PageInfo.StartCursor
			}
			if !slices.Equal(bwd, all) {
				t.Errorf("users(%s) paged backward = %v, want %v", o.orderBy, bwd, all)
			}
		})
	}
}

func checkPageInfo(t *testing.T, walk string, i int, p usersPage, hasNext, hasPrev bool) {
	t.Helper()
	pi := p.PageInfo
	if p.TotalCount != len(everyone) {
		t.Errorf("%s page %d: totalCount %d, want %d", walk, i, p.TotalCount, len(everyone))
	}
	if pi.HasNextPage != hasNext || pi.HasPreviousPage != hasPrev {
		t.Errorf("%s page %d %v: hasNextPage %v, hasPreviousPage %v; want %v, %v", walk, i, p.usernames(), pi.HasNextPage, pi.HasPreviousPage, hasNext, hasPrev)
	}
	if len(p.Edges) == 0 {
		t.Errorf("%s page %d is empty", walk, i)
		return
	}
	if pi.StartCursor == nil || pi.EndCursor == nil || *pi.StartCursor != p.Edges[0].Cursor || *pi.EndCursor != p.Edges[len(p.Edges)-1].Cursor {
		t.Errorf("%s page %d: startCursor %v, endCursor %v, want the cursors of the first and last edges", walk, i, pi.StartCursor, pi.EndCursor)
	}
}

func testUsersFilters(t *testing.T, e *env) {
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`{status: [ACTIVE]}`, []string{"alice", "bob", "dave", "ivan", "judy", "kate"}},
		{`{status: [INACTIVE]}`, []string{"carol", "erin", "hank"}},
		{`{status: [INVITE_PENDING, DEACTIVATED]}`, []string{"frank", "gina"}},
		{`{role: [ADMIN]}`, []string{"alice", "ivan"}},
		{`{role: [VIEWER]}`, []string{"carol"}},
		{`{role: [MEMBER, VIEWER]}`, []string{"bob", "carol", "dave", "erin", "frank", "gina", "hank", "judy", "kate"}},
		{`{team: "ml"}`, []string{"bob", "carol"}},
		{`{team: "data"}`, []string{"dave", "ivan"}},
		{`{search: "SMITH"}`, []string{"carol"}},
		{`{search: "jud"}`, []string{"judy"}},
		{`{search: "corp.example"}`, []string{"kate"}},
		{`{search: "%"}`, nil},
		{`{search: "_"}`, nil},
		{`{role: [MEMBER], team: "data"}`, []string{"dave"}},
		{`{status: [ACTIVE], search: "a"}`, []string{"alice", "dave", "ivan", "kate"}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			var data struct {
				Organization struct {
					Users struct {
						TotalCount int
						Nodes      []memberRow
					}
				}
			}
			e.mustQuery("alice", `{ organization(name: "acme") { users(first: 100, filter: `+tc.filter+`) { totalCount nodes { `+memberFields+` } } } }`, nil, &data)
			users := data.Organization.Users
			var got []string
			for _, n := range users.Nodes {
				got = append(got, n.Username)
				// The database filters on status; the field is computed in Go.
				if want := statusesIn(tc.filter); want != nil && !slices.Contains(want, n.Status) {
					t.Errorf("filter %s returned %s with status %s", tc.filter, n.Username, n.Status)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) || users.TotalCount != len(tc.want) {
				t.Errorf("users(filter: %s) = %v, totalCount %d; want %v, %d", tc.filter, got, users.TotalCount, tc.want, len(tc.want))
			}
		})
	}

	// totalCount counts the filter's matches, not the page.
	p := e.usersPage("alice", `first: 1, filter: {team: "ml"}`)
	if p.TotalCount != 2 || len(p.Edges) != 1 || !p.PageInfo.HasNextPage {
		t.Errorf(`users(first: 1, filter: {team: "ml"}) = %v, totalCount %d, hasNextPage %v; want 1 user of 2, more to come`,
			p.usernames(), p.TotalCount, p.PageInfo.HasNextPage)
	}
	if p := e.usersPage("alice", "first: 1"); p.TotalCount != len(everyone) {
		t.Errorf("users(first: 1).totalCount = %d, want %d", p.TotalCount, len(everyone))
	}

	err := e.queryError("alice", `{ organization(name: "acme") { users(filter: {status: [NEVER_ACTIVE]}) { totalCount } } }`, nil)
	if !strings.Contains(err.Message, "NEVER_ACTIVE") {
		t.Errorf("status NEVER_ACTIVE in self-managed mode: error %q, want one naming it", err.Message)
	}
}

// statusesIn returns the statuses a filter literal asks for.
func statusesIn(filter string) []string {
	_, rest, ok := strings.Cut(filter, "status: [")
	if !ok {
		return nil
	}
	list, _, _ := strings.Cut(rest, "]")
	return strings.Split(strings.ReplaceAll(list, " ", ""), ",")
}

func testUsersBadArguments(t *testing.T, e *env) {
	for _, tc := range []struct {
		args string
		want []string // each must be in the message
	}{
		{"first: 2, last: 2", []string{"first", "last"}},
		{"first: 101", []string{"100", "maximum page size"}},
		{"last: 101", []string{"100", "maximum page size"}},
		{"first: -1", []string{"first"}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			err := e.queryError("alice", `{ organization(name: "acme") { users(`+tc.args+`) { totalCount } } }`, nil)
			for _, w := range tc.want {
				if !strings.Contains(err.Message, w) {
					t.Errorf("users(%s): error %q, want it to mention %q", tc.args, err.Message, w)
				}
			}
		})
	}

	// A cursor that is not one, or belongs to another order, is the
	// client's mistake, not the server's.
	byName := e.usersPage("alice", "first: 1, orderBy: {field: NAME, direction: ASC}")
	for _, args := range []string{
		`first: 2, after: "bogus"`,
		`last: 2, before: "bogus"`,
		fmt.Sprintf(`first: 2, after: %q, orderBy: {field: DATE_ADDED, direction: ASC}`, *byName.PageInfo.EndCursor),
	} {
		t.Run(args, func(t *testing.T) {
			err := e.queryError("alice", `{ organization(name: "acme") { users(`+args+`) { totalCount } } }`, nil)
			if err.code() != "BAD_USER_INPUT" || !strings.Contains(err.Message, "cursor") {
				t.Errorf("users(%s): error %q with code %q, want BAD_USER_INPUT about the cursor", args, err.Message, err.code())
			}
		})
	}
}

func TestDashboardAccessSelfManaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "alice")
	e.addUsers("acme", "member", "bob")
	e.addUsers("acme", "viewer", "vic")
	e.invite("acme", "ian")
	e.org("other", "enterprise")
	e.addUsers("other", "admin", "oscar")
	e.ingest("alice", "acme", `{"action":"run:update","actor_email":"bob@x.io"}`+"\n")
	e.ingest("oscar", "other", `{"action":"run:stop","actor_email":"oscar@x.io"}`+"\n")

	const full = `query($org: String!) { organization(name: $org) { name
		users(first: 100) { totalCount nodes { username } }
		activity { totalActiveUsers { count } }
		auditEvents { nodes { action } } } }`
	type fullData struct {
		Organization *struct {
			Users struct {
				TotalCount int
				Nodes      []struct{ Username string }
			}
			Activity    struct{ TotalActiveUsers struct{ Count int } }
			AuditEvents struct{ Nodes []struct{ Action string } }
		}
	}
	for _, tc := range []struct {
		user, org, action string
		users             []string
	}{
		{"alice", "acme", "run:update", []string{"alice", "bob", "ian", "vic"}},
		{"admin", "acme", "run:update", []string{"alice", "bob", "ian", "vic"}},
		{"admin", "other", "run:stop", []string{"oscar"}},
	} {
		t.Run(tc.user+" "+tc.org, func(t *testing.T) {
			var d fullData
			e.mustQuery(tc.user, full, map[string]any{"org": tc.org}, &d)
			if d.Organization == nil {
				t.Errorf("%s: organization(%s) = null", tc.user, tc.org)
				return
			}
			var got []string
			for _, n := range d.Organization.Users.Nodes {
				got = append(got, n.Username)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.users) || d.Organization.Users.TotalCount != len(tc.users) {
				t.Errorf("%s: %s users = %v (totalCount %d), want %v", tc.user, tc.org, got, d.Organization.Users.TotalCount, tc.users)
			}
			if ev := d.Organization.AuditEvents.Nodes; len(ev) != 1 || ev[0].Action != tc.action {
				t.Errorf("%s: %s auditEvents = %v, want today's %s", tc.user, tc.org, ev, tc.action)
			}
		})
	}

	// Members and viewers see themselves only, and neither panels nor log.
	for _, u := range []string{"bob", "vic"} {
		t.Run(u+" sees only self", func(t *testing.T) {
			for _, args := range []string{"first: 100", "last: 100", `first: 100, filter: {search: "alice"}`} {
				p := e.usersPage(u, args)
				if want := []string{u}; args == `first: 100, filter: {search: "alice"}` {
					if len(p.Edges) != 0 || p.TotalCount != 0 {
						t.Errorf("%s: users(%s) = %v, totalCount %d; want nobody", u, args, p.usernames(), p.TotalCount)
					}
				} else if !slices.Equal(p.usernames(), want) || p.TotalCount != 1 {
					t.Errorf("%s: users(%s) = %v, totalCount %d; want %v, 1", u, args, p.usernames(), p.TotalCount, want)
				}
			}
			for _, field := range []string{"activity { totalActiveUsers { count } }", "auditEvents { nodes { action } }"} {
				err := e.queryError(u, `{ organization(name: "acme") { `+field+` } }`, nil)
				if err.code() != "FORBIDDEN" {
					t.Errorf("%s: %s error %q code %q, want FORBIDDEN", u, field, err.Message, err.code())
				}
			}
		})
	}

	// Outsiders, and invitees who have not accepted, do not see acme.
	for _, u := range []string{"oscar", "ian"} {
		t.Run(u+" does not see acme", func(t *testing.T) {
			data, _ := e.query(u, `{ organization(name: "acme") { name users { totalCount } } }`, nil)
			var d struct{ Organization *struct{ Name string } }
			if err := json.Unmarshal(data, &d); err != nil || d.Organization != nil {
				t.Errorf("%s: organization(acme) = %s, want null", u, data)
			}
		})
	}

	// The instance admin sees every organization; others their own.
	for _, tc := range []struct {
		user string
		orgs []string
	}{
		{"admin", []string{"acme", "default", "other"}},
		{"oscar", []string{"other"}},
		{"bob", []string{"acme"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			var d struct {
				Organizations struct {
					TotalCount int
					Edges      []struct{ Node struct{ Name string } }
				}
			}
			e.mustQuery(tc.user, `{ organizations(first: 100) { totalCount edges { node { name } } } }`, nil, &d)
			var got []string
			for _, ed := range d.Organizations.Edges {
				got = append(got, ed.Node.Name)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.orgs) || d.Organizations.TotalCount != len(tc.orgs) {
				t.Errorf("%s: organizations = %v (totalCount %d), want %v", tc.user, got, d.Organizations.TotalCount, tc.orgs)
			}
		})
	}
}

func TestDashboardAccessMultiTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.MultiTenant)
	e.addUsers("acme", "admin", "alice")
	e.addUsers("acme", "member", "bob")
	e.org("small", "teams")
	e.addUsers("small", "admin", "carol")
	e.ingest("alice", "acme", `{"action":"run:update","actor_email":"bob@x.io","project_name":"p","timestamp":"2026-10-14T09:00:00Z"}
{"action":"run:update","cli_version":"7 days ago","timestamp":"2026-10-07T09:00:00Z"}
{"action":"run:update","cli_version":"9 days ago","timestamp":"2026-10-05T09:00:00Z"}
`)
	e.ingest("carol", "small", `{"action":"run:update","actor_email":"carol@x.io"}`+"\n")

	// anonymize is ignored: multi-tenant audit logs always carry PII.
	var d struct {
		Organization struct {
			AuditEvents struct {
				Nodes []struct{ ActorEmail, ProjectName *string }
			}
		}
	}
	e.mustQuery("alice", `{ organization(name: "acme") { auditEvents(anonymize: true) { nodes { actorEmail projectName } } } }`, nil, &d)
	if ns := d.Organization.AuditEvents.Nodes; len(ns) != 1 || ns[0].ActorEmail == nil || ns[0].ProjectName == nil {
		t.Errorf("multi-tenant auditEvents(anonymize: true) = %+v, want today's event with its PII", ns)
	}
	// numDays is capped at 7.
	var w struct {
		Organization struct {
			AuditEvents struct {
				Nodes []struct{ CliVersion *string }
			}
		}
	}
	e.mustQuery("alice", `{ organization(name: "acme") { auditEvents(filter: {numDays: 9}) { nodes { cliVersion } } } }`, nil, &w)
	var versions []string
	for _, n := range w.Organization.AuditEvents.Nodes {
		if n.CliVersion != nil {
			versions = append(versions, *n.CliVersion)
		}
	}
	if !slices.Equal(versions, []string{"7 days ago"}) {
		t.Errorf("multi-tenant auditEvents(numDays: 9) reported events = %v, want only the one 7 days ago", versions)
	}

	for _, tc := range []struct{ user, org string }{{"carol", "small"}, {"bob", "acme"}} {
		t.Run(tc.user+" "+tc.org, func(t *testing.T) {
			err := e.queryError(tc.user, fmt.Sprintf(`{ organization(name: %q) { auditEvents { nodes { action } } } }`, tc.org), nil)
			if err.code() != "FORBIDDEN" {
				t.Errorf("%s: auditEvents of %s: error %q code %q, want FORBIDDEN", tc.user, tc.org, err.Message, err.code())
			}
		})
	}
}

// auditEnv is acme with events reported over the days before now, each
// tagged in cli_version.
func auditEnv(t *testing.T) *env {
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "alice")
	e.ingest("alice", "acme", `{"cli_version":"e1","action":"run:update","timestamp":"2026-10-14T10:00:00Z","actor_email":"bob@x.io","response_code":200,"entity_name":"ent-a"}
{"cli_version":"e2","action":"user:login","timestamp":"2026-10-14T11:00:00Z","actor_email":"carol@x.io","response_code":401}
{"cli_version":"e3","action":"artifact:read","timestamp":"2026-10-13T09:00:00Z","actor_email":"bob@x.io","actor_ip":"10.0.0.3","actor_user_id":"u-bob","artifact_asset":"art-3","artifact_digest":"d3","artifact_qualified_name":"ent-3/proj-3/art:v3","artifact_sequence_asset":"seq-3","entity_asset":"ent-3","entity_name":"Entity Three","project_asset":"proj-3","project_name":"Project Three","report_asset":"rep-3","report_name":"Report Three","response_code":200,"user_asset":"u-carol","user_email":"carol@x.io"}
{"cli_version":"e4","action":"run:stop","timestamp":"2026-10-13T09:00:00Z","actor_email":"carol@x.io","response_code":500,"project_asset":"proj-b"}
{"cli_version":"e5","action":"user:login","timestamp":"2026-10-12T23:59:59Z","actor_email":"bob@x.io","response_code":403}
{"cli_version":"e6","action":"user:update","timestamp":"2026-10-11T00:00:00Z","actor_user_id":"u-alice","user_email":"bob@x.io","user_asset":"u-bob","response_code":200}
{"cli_version":"t1","action":"project:read","timestamp":"2026-10-10T08:00:00Z"}
{"cli_version":"t2","action":"project:read","timestamp":"2026-10-10T08:00:00Z"}
{"cli_version":"t3","action":"project:read","timestamp":"2026-10-10T08:00:00Z"}
{"cli_version":"e7","action":"run:delete","timestamp":"2026-10-09T12:00:00Z","actor_email":"bob@x.io","response_code":404,"entity_asset":"ent-a"}
{"cli_version":"x1","action":"run:update","timestamp":"2026-09-24T12:00:00Z","project_name":"R&D <alpha> \"q\" \\ Zoë \u2028","entity_name":"a&b"}
`)
	return e
}

func TestAuditEvents(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Filters", testAuditEventsFilters},
		{"BadFilters", testAuditEventsBadFilters},
		{"SameAsREST", testAuditEventsSameAsREST},
		{"Order", testAuditEventsOrder},
		{"Paging", testAuditEventsPaging},
		{"Anonymize", testAuditEventsAnonymize},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e.with(t)) })
	}
}

type eventsPage struct {
	Edges []struct {
		Cursor string
		Node   struct {
			CliVersion *string
			JSON       string `json:"json"`
		}
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		EndCursor                    *string
	}
}

func (p eventsPage) tags() []string {
	var ts []string
	for _, e := range p.Edges {
		if e.Node.CliVersion != nil {
			ts = append(ts, *e.Node.CliVersion)
		}
	}
	return ts
}

// events runs auditEvents(args) on acme as alice.
func (e *env) events(args string) eventsPage {
	e.t.Helper()
	var data struct {
		Organization struct{ AuditEvents eventsPage }
	}
	if args != "" {
		args = "(" + args + ")"
	}
	e.mustQuery("alice", `{ organization(name: "acme") { auditEvents`+args+` {
		edges { cursor node { cliVersion json } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }`, nil, &data)
	return data.Organization.AuditEvents
}

func testAuditEventsFilters(t *testing.T, e *env) {
	for _, tc := range []struct {
		filter string
		want   []string // oldest first
	}{
		{``, []string{"e1", "e2"}},
		{`numDays: 2`, []string{"e5", "e3", "e4", "e1", "e2"}},
		{`numDays: 10`, []string{"e7", "t1", "t2", "t3", "e6", "e5", "e3", "e4", "e1", "e2"}},
		{`startDate: "2026-10-13"`, []string{"e3", "e4"}},
		{`startDate: "2026-10-13", numDays: 1`, []string{"e5", "e3", "e4"}},
		{`from: "2026-10-13T09:00:00Z", to: "2026-10-14T10:00:00Z"`, []string{"e3", "e4"}},
		{`numDays: 10, actions: ["user:login"]`, []string{"e5", "e2"}},
		{`numDays: 10, actions: ["user:login", "run:stop"]`, []string{"e5", "e4", "e2"}},
		{`numDays: 10, actor: "bob@x.io"`, []string{"e7", "e5", "e3", "e1"}},
		{`numDays: 10, actor: "u-alice"`, []string{"e6"}},
		{`numDays: 10, actor: "bob@x.io", actions: ["user:login"]`, []string{"e5"}},
		{`numDays: 10, targetUser: "carol@x.io"`, []string{"e3"}},
		{`numDays: 10, targetUser: "u-bob"`, []string{"e6"}},
		{`numDays: 10, entity: "ent-a"`, []string{"e7", "e1"}},
		{`numDays: 10, project: "proj-b"`, []string{"e4"}},
		{`numDays: 10, responseCodeMin: 400, responseCodeMax: 499`, []string{"e7", "e5", "e2"}},
		{`numDays: 10, responseCodeMin: 401, responseCodeMax: 403`, []string{"e5", "e2"}},
		{`numDays: 10, responseCodeMin: 500`, []string{"e4"}},
	} {
		t.Run(cmp.Or(tc.filter, "no filter"), func(t *testing.T) {
			got := e.events(fmt.Sprintf("first: 100, order: OLDEST_FIRST, filter: {%s}", tc.filter)).tags()
			if !slices.Equal(got, tc.want) {
				t.Errorf("auditEvents(filter: {%s}) = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
}

func testAuditEventsBadFilters(t *testing.T, e *env) {
	for _, tc := range []struct{ filter, want string }{
		{`actions: ["user:login", "user:fly"]`, "user:fly"},
		{`from: "2026-10-13T00:00:00Z", startDate: "2026-10-13"`, "startDate"},
		{`startDate: "2023-13-45"`, "startDate"},
		{`numDays: -1`, "numDays"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			err := e.queryError("alice", `{ organization(name: "acme") { auditEvents(filter: {`+tc.filter+`}) { nodes { action } } } }`, nil)
			if !strings.Contains(err.Message, tc.want) {
				t.Errorf("auditEvents(filter: {%s}): error %q, want it to name %s", tc.filter, err.Message, tc.want)
			}
		})
	}
	err := e.queryError("alice", `{ organization(name: "acme") { auditEvents(after: "bogus") { nodes { action } } } }`, nil)
	if err.code() != "BAD_USER_INPUT" || !strings.Contains(err.Message, "cursor") {
		t.Errorf(`auditEvents(after: "bogus"): error %q with code %q, want BAD_USER_INPUT about the cursor`, err.Message, err.code())
	}
}

// testAuditEventsSameAsREST checks that the json field is, byte for byte,
// what GET /admin/audit_logs writes for the same window.
func testAuditEventsSameAsREST(t *testing.T, e *env) {
	for _, tc := range []struct {
		name                string
		startDate           string
		numDays             int // -1 for none
		hasSpecialCharacter bool
	}{
		{"today", "", -1, false},
		{"numDays=1", "", 1, false},
		{"numDays=10", "", 10, false},
		{"startDate=2026-10-13", "2026-10-13", -1, false},
		{"startDate=2026-10-13&numDays=1", "2026-10-13", 1, false},
		{"startDate=2026-09-24 (special characters)", "2026-09-24", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, anonymize := range []bool{false, true} {
				params := url.Values{}
				var filter []string
				if tc.startDate != "" {
					params.Set("startDate", tc.startDate)
					filter = append(filter, fmt.Sprintf("startDate: %q", tc.startDate))
				}
				if tc.numDays >= 0 {
					params.Set("numDays", fmt.Sprint(tc.numDays))
					filter = append(filter, fmt.Sprintf("numDays: %d", tc.numDays))
				}
				if anonymize {
					params.Set("anonymize", "true")
				}
				code, body := e.do(http.MethodGet, "/admin/audit_logs?"+params.Encode(), "alice", nil)
				if code != http.StatusOK {
					t.Fatalf("GET /admin/audit_logs?%s = %d %s", params.Encode(), code, body)
				}
				var rest []string
				for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
					if l != "" {
						rest = append(rest, l)
					}
				}
				p := e.events(fmt.Sprintf("first: 100, order: OLDEST_FIRST, anonymize: %v, filter: {%s}", anonymize, strings.Join(filter, ", ")))
				var gql []string
				for _, ed := range p.Edges {
					gql = append(gql, ed.Node.JSON)
				}
				if len(rest) == 0 {
					t.Errorf("%s: GET /admin/audit_logs returned no events; the test needs some", tc.name)
				}
				if !slices.Equal(gql, rest) {
					t.Errorf("%s, anonymize=%v: GraphQL json fields differ from GET /admin/audit_logs?%s:\n graphql: %s\n    rest: %s",
						tc.name, anonymize, params.Encode(), strings.Join(gql, "\n          "), strings.Join(rest, "\n          "))
				}
			}
		})
	}
}

func testAuditEventsOrder(t *testing.T, e *env) {
	oldest := e.events(`first: 100, order: OLDEST_FIRST, filter: {numDays: 10}`).tags()
	newest := e.events(`first: 100, order: NEWEST_FIRST, filter: {numDays: 10}`).tags()
	byDefault := e.events(`first: 100, filter: {numDays: 10}`).tags()
	reversed := slices.Clone(oldest)
	slices.Reverse(reversed)
	if len(oldest) != 10 || !slices.Equal(newest, reversed) || !slices.Equal(byDefault, newest) {
		t.Errorf("auditEvents oldest first = %v, newest first = %v, default = %v; want 10 events, the newest-first and default orders the reverse of the oldest-first one",
			oldest, newest, byDefault)
	}
}

func testAuditEventsPaging(t *testing.T, e *env) {
	for _, order := range []string{"OLDEST_FIRST", "NEWEST_FIRST"} {
		t.Run(order, func(t *testing.T) {
			all := e.events(`first: 100, order: ` + order + `, filter: {numDays: 10}`).tags()
			for _, size := range []int{1, 2, 3} {
				var got []string
				after := ""
				for i := 0; i <= len(all); i++ {
					args := fmt.Sprintf(`first: %d, order: %s, filter: {numDays: 10}`, size, order)
					if after != "" {
						args += fmt.Sprintf(", after: %q", after)
					}
					p := e.events(args)
					got = append(got, p.tags()...)
					if p.PageInfo.HasPreviousPage != (i > 0) || p.PageInfo.HasNextPage != (len(got) < len(all)) {
						t.Errorf("%s, first %d, page %d: hasNextPage %v, hasPreviousPage %v", order, size, i, p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage)
					}
					if !p.PageInfo.HasNextPage {
						break
					}
					after = *p.PageInfo.EndCursor
				}
				if !slices.Equal(got, all) {
					t.Errorf("auditEvents(%s) paged by %d = %v, want %v", order, size, got, all)
				}
			}
		})
	}
}

func testAuditEventsAnonymize(t *testing.T, e *env) {
	for _, anonymize := range []bool{false, true} {
		var data struct {
			Organization struct {
				AuditEvents struct {
					Nodes []struct {
						CliVersion  *string
						ActorEmail  *string
						ActorUserID *string `json:"actorUserId"`
						JSON        string  `json:"json"`
					}
				}
			}
		}
		e.mustQuery("alice", fmt.Sprintf(`{ organization(name: "acme") { auditEvents(anonymize: %v, filter: {startDate: "2026-10-13"}) {
			nodes { cliVersion actorEmail actorUserId json } } } }`, anonymize), nil, &data)
		var found bool
		for _, n := range data.Organization.AuditEvents.Nodes {
			if n.CliVersion == nil || *n.CliVersion != "e3" {
				continue
			}
			found = true
			var obj map[string]any
			if err := json.Unmarshal([]byte(n.JSON), &obj); err != nil {
				t.Fatalf("json %q: %v", n.JSON, err)
			}
			// e3 has every key; anonymizing leaves out exactly the PII.
			for _, k := range audit.Keys {
				_, present := obj[string(k)]
				if want := !anonymize || !slices.Contains(audit.PII, k); present != want {
					t.Errorf("anonymize %v: key %s present = %v, want %v", anonymize, k, present, want)
				}
			}
			want := len(audit.Keys)
			if anonymize {
				want -= len(audit.PII)
			}
			if len(obj) != want {
				t.Errorf("anonymize %v: json has %d keys, want %d: %s", anonymize, len(obj), want, n.JSON)
			}
			if (n.ActorEmail == nil) != anonymize || n.ActorUserID == nil {
				t.Errorf("anonymize %v: actorEmail %v, actorUserId %v", anonymize, n.ActorEmail, n.ActorUserID)
			}
		}
		if !found {
			t.Errorf("anonymize %v: event e3 not found", anonymize)
		}
	}
}

// statements records every statement sent through the postgres-counting
// driver, which registerOnce registers.
var (
	statementsMu sync.Mutex
	statements   []string
	registerOnce sync.Once
)

func record(q string) {
	statementsMu.Lock()
	defer statementsMu.Unlock()
	statements = append(statements, strings.Join(strings.Fields(q), " "))
}

// sent returns the statements recorded from the n-th on.
func sent(n int) []string {
	statementsMu.Lock()
	defer statementsMu.Unlock()
	return slices.Clone(statements[n:])
}

func nSent() int {
	statementsMu.Lock()
	defer statementsMu.Unlock()
	return len(statements)
}

// pqConn is what lib/pq's connections implement.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.NamedValueChecker
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// countingDriver is lib/pq counting every query, exec and prepare.
type countingDriver struct{}

func (countingDriver) Open(name string) (driver.Conn, error) {
	c, err := pq.Driver{}.Open(name)
	if err != nil {
		return nil, err
	}
	pc, ok := c.(pqConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("lib/pq connection %T lacks a method the counting driver passes through", c)
	}
	return countingConn{pc}, nil
}

type countingConn struct{ pqConn }

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	record(q)
	return c.pqConn.QueryContext(ctx, q, args)
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	record(q)
	return c.pqConn.ExecContext(ctx, q, args)
}

// A prepare is recorded as "PREPARE " and the statement (it is a round trip
// of its own, once per pooled connection), and each run of the prepared
// statement as the statement (storage prepares its hot reads).
func (c countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	record("PREPARE " + q)
	st, err := c.pqConn.PrepareContext(ctx, q)
	return countingStmt(st, q, err)
}

func (c countingConn) Prepare(q string) (driver.Stmt, error) {
	record("PREPARE " + q)
	st, err := c.pqConn.Prepare(q)
	return countingStmt(st, q, err)
}

// pqStmt is what lib/pq's prepared statements implement.
type pqStmt interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

type countedStmt struct {
	pqStmt
	q string
}

func countingStmt(st driver.Stmt, q string, err error) (driver.Stmt, error) {
	if err != nil {
		return nil, err
	}
	ps, ok := st.(pqStmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("lib/pq statement %T lacks a method the counting driver passes through", st)
	}
	return countedStmt{ps, q}, nil
}

func (s countedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	record(s.q)
	return s.pqStmt.QueryContext(ctx, args)
}

func (s countedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	record(s.q)
	return s.pqStmt.ExecContext(ctx, args)
}

// openCounted opens two stores on one new test database: st for setting
// it up, and counted, which reads through the registered database/sql
// driver (a counting wrapper of lib/pq) that the test measures.
func openCounted(t *testing.T, driver string) (st, counted *storage.Store, dbURL string) {
	t.Helper()
	ctx := context.Background()
	dbURL = storagetest.URL(t)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted, err = storage.OpenDriver(ctx, driver, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counted.Close() })
	return st, counted, dbURL
}

func TestUsersQueryCountIsConstant(t *testing.T) {
	t.Parallel()
	registerOnce.Do(func() { sql.Register("postgres-counting", countingDriver{}) })
	st, counted, _ := openCounted(t, "postgres-counting")
	e := newEnvOn(t, deployment.SelfManaged, st, counted)

	// Two organizations with 10 and 50 members, every other member in the
	// team "even" and every third in "third".
	teams := func(i int) []string {
		var ts []string
		if i%2 == 0 {
			ts = append(ts, "even")
		}
		if i%3 == 0 {
			ts = append(ts, "third")
		}
		return ts
	}
	for _, n := range []int{10, 50} {
		org := fmt.Sprintf("org%d", n)
		e.org(org, "enterprise")
		members := map[string][]string{}
		for i := range n {
			u := fmt.Sprintf("%s-u%02d", org, i)
			role := "member"
			if i == 0 {
				role = "admin"
			}
			e.add(org, member{username: u, role: role})
			for _, team := range teams(i) {
				members[team] = append(members[team], u)
			}
		}
		for team, us := range members {
			e.team(org, team, us...)
		}
		e.key(org + "-u00")
	}

	const q = `query($org: String!) { organization(name: $org) { users(first: 50) {
		nodes { user { username } organization { name } teams { name } status email } } } }`
	var sents [][]string
	for _, n := range []int{10, 50} {
		org := fmt.Sprintf("org%d", n)
		var data struct {
			Organization struct {
				Users struct {
					Nodes []struct {
						User         struct{ Username string }
						Organization struct{ Name string }
						Teams        []struct{ Name string }
						Status       string
						Email        string
					}
				}
			}
		}
		before := nSent()
		e.mustQuery(org+"-u00", q, map[string]any{"org": org}, &data)
		sents = append(sents, sent(before))

		nodes := data.Organization.Users.Nodes
		if len(nodes) != n {
			t.Fatalf("%s: %d users, want %d", org, len(nodes), n)
		}
		for _, node := range nodes {
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(node.User.Username, org+"-u"), "%d", &i); err != nil {
				t.Fatalf("unexpected user %q", node.User.Username)
			}
			var got []string
			for _, tm := range node.Teams {
				got = append(got, tm.Name)
			}
			sort.Strings(got)
			want := teams(i)
			sort.Strings(want)
			if node.Organization.Name != org || !slices.Equal(got, want) || node.Email != node.User.Username+"@x.io" || node.Status != "INACTIVE" {
				t.Errorf("%s: node %+v, want organization %s, teams %v", org, node, org, want)
			}
		}
	}
	// Nine statements: the caller's key, the organization, the caller's
	// membership (three times), the count, the page, one batch of
	// organizations and one of teams. The loaders' 1 ms wait sometimes splits
	// a batch in two on a busy machine, hence the slack; one statement per
	// member would cost 50 or more.
	const limit = 12
	if len(sents[0]) > limit || len(sents[1]) > limit {
		t.Errorf("users(first: 50) cost %d statements for 10 members and %d for 50, want at most %d whatever the count:\n%s\n\n%s",
			len(sents[0]), len(sents[1]), limit, strings.Join(sents[0], "\n"), strings.Join(sents[1], "\n"))
	}
}

// An unexpected failure, such as the database's, reaches the client as
// "internal server error": its text may hold details of the database.
func TestDatabaseErrorsAreHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "alice")
	if _, err := e.store.DB().ExecContext(e.ctx, `ALTER TABLE activity_days RENAME TO activity_days_moved; ALTER TABLE activity_day_bits RENAME TO activity_day_bits_moved`); err != nil {
		t.Fatal(err)
	}
	err := e.queryError("alice", `{ organization(name: "acme") { activity { totalActiveUsers { count } } } }`, nil)
	if err.Message != "internal server error" || err.code() != "INTERNAL_SERVER_ERROR" {
		t.Errorf("activity with its table gone: error %q with code %q, want \"internal server error\" with INTERNAL_SERVER_ERROR", err.Message, err.code())
	}
}

// A dashboard panel asked as an organization admin costs the caller's key,
// the organization with the caller's membership, and the panel's own query
// (ALL_TIME one more, for the first day): the panel's permission check
// takes the organization from the request's memo instead of reading it
// again by id. Not parallel: the counting driver's log is shared.
func TestPanelReadsOrganizationOnce(t *testing.T) {
	registerOnce.Do(func() { sql.Register("postgres-counting", countingDriver{}) })
	for _, mode := range []deployment.Mode{deployment.SelfManaged, deployment.MultiTenant} {
		st, counted, _ := openCounted(t, "postgres-counting")
		e := newEnvOn(t, mode, st, counted)
		e.add("acme", member{username: "alice", role: "admin"})
		e.key("alice")
		e.active("alice", at(2026, 10, 13, 9, 0, 0))
		panels := []struct {
			panel string
			max   int
		}{
			{"totalActiveUsers(period: LAST_30_DAYS) { count }", 3},
			{"totalActiveUsers(period: ALL_TIME) { count }", 4},
			{"usersActiveOverTime(period: LAST_30_DAYS) { period }", 3},
		}
		if mode.MultiTenant() {
			panels = []struct {
				panel string
				max   int
			}{
				{"activeUserCount(period: LAST_7_DAYS) { count }", 3},
				{"weeklyActiveUsers(period: LAST_30_DAYS) { period }", 3},
				// The period's day bitmaps, then the ten's last activity and users.
				{"mostActiveUsers(period: LAST_30_DAYS) { users { user { username } } }", 4},
			}
		}
		for _, p := range panels {
			name, rest, _ := strings.Cut(p.panel, "(period: ")
			period, _, _ := strings.Cut(rest, ")")
			t.Run(string(mode)+"/"+name+"/"+period, func(t *testing.T) {
				// Once first, so that the panel's statement is prepared
				// on the pool's connection (storage prepares its hot reads
				// once per connection).
				query := `{ organization(name: "acme") { activity { ` + p.panel + ` } } }`
				e.with(t).mustQuery("alice", query, nil, &struct{}{})
				before := nSent()
				e.with(t).mustQuery("alice", query, nil, &struct{}{})
				got := sent(before)
				byID := 0
				for _, s := range got {
					if strings.Contains(s, "FROM organizations WHERE id") {
						byID++
					}
				}
				if byID != 0 || len(got) > p.max {
					t.Errorf("%d statements, %d of them reading the organization by id; want at most %d and none:\n%s", len(got), byID, p.max, strings.Join(got, "\n"))
				}
			})
		}
	}
}
