package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/storage"
)

// CheckActivityEqual fails t unless every activity panel of org from `from`
// to `to` (the day bitmaps' answers: ActiveUsers, DailyActiveUsers,
// WeeklyActiveUsers, MostActiveUsers with limits 10 and 3) equals the
// activity_days rollup's (the *Rollup methods). It returns the total, for
// callers that want to see the data was not empty.
func CheckActivityEqual(t testing.TB, s *storage.Store, org int64, from, to time.Time) int {
	t.Helper()
	ctx := context.Background()
	span := fmt.Sprintf("organization %d, %s..%s", org, from.Format(time.DateOnly), to.Format(time.DateOnly))
	n, err := s.ActiveUsers(ctx, org, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.ActiveUsersRollup(ctx, org, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Errorf("ActiveUsers(%s) = %d, rollup %d", span, n, want)
	}
	series := func(name string, got, want []storage.DayCount, err1, err2 error) {
		t.Helper()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if f := fmt.Sprint(days(got)); f != fmt.Sprint(days(want)) {
			t.Errorf("%s(%s) =\n%s\nrollup\n%s", name, span, f, fmt.Sprint(days(want)))
		}
	}
	d1, err1 := s.DailyActiveUsers(ctx, org, from, to)
	d2, err2 := s.DailyActiveUsersRollup(ctx, org, from, to)
	series("DailyActiveUsers", d1, d2, err1, err2)
	w1, err1 := s.WeeklyActiveUsers(ctx, org, from, to)
	w2, err2 := s.WeeklyActiveUsersRollup(ctx, org, from, to)
	series("WeeklyActiveUsers", w1, w2, err1, err2)
	for _, limit := range []int{10, 3} {
		m1, err1 := s.MostActiveUsers(ctx, org, from, to, limit)
		m2, err2 := s.MostActiveUsersRollup(ctx, org, from, to, limit)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a, b := ranking(m1), ranking(m2); a != b {
			t.Errorf("MostActiveUsers(%s, %d) =\n%s\nrollup\n%s", span, limit, a, b)
		}
	}
	return n
}

func days(ds []storage.DayCount) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s:%d", d.Day.UTC().Format(time.DateOnly), d.Users)
	}
	return out
}

func ranking(us []storage.UserActivity) string {
	s := ""
	for _, u := range us {
		s += fmt.Sprintf("[%d %s days=%d last=%s deactivated=%v] ", u.UserID, u.User.Username, u.ActiveDays,
			u.LastActive.UTC().Format(time.RFC3339Nano), u.User.DeactivatedAt != nil)
	}
	return s
}
