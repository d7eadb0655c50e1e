package activity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// Period is a reporting period of the activity panels.
type Period string

// The periods. Self-managed and dedicated offer the first five,
// multi-tenant LAST_7_DAYS to LAST_12_MONTHS without LAST_3_MONTHS.
const (
	Last7Days    Period = "LAST_7_DAYS"
	Last30Days   Period = "LAST_30_DAYS"
	Last90Days   Period = "LAST_90_DAYS"
	Last3Months  Period = "LAST_3_MONTHS"
	Last6Months  Period = "LAST_6_MONTHS"
	Last12Months Period = "LAST_12_MONTHS"
	AllTime      Period = "ALL_TIME"
)

// Panel names an activity panel, for its default period.
type Panel int

// The panels.
const (
	TotalActiveUsers Panel = iota // self-managed; multi-tenant: active user count
	UsersActiveOverTime
	WeeklyActiveUsers
	MostActiveUsers
)

// Periods returns the periods a mode offers, shortest first.
func Periods(mode deployment.Mode) []Period {
	if mode.MultiTenant() {
		return []Period{Last7Days, Last30Days, Last90Days, Last6Months, Last12Months}
	}
	return []Period{Last30Days, Last3Months, Last6Months, Last12Months, AllTime}
}

// Default returns a panel's period when none is asked for: self-managed
// shows total active users over 3 months and users active over time over 6;
// multi-tenant shows every panel over 30 days.
func Default(mode deployment.Mode, p Panel) Period {
	switch {
	case mode.MultiTenant():
		return Last30Days
	case p == UsersActiveOverTime:
		return Last6Months
	}
	return Last3Months
}

// Check returns an error naming the allowed periods when mode does not offer p.
func Check(mode deployment.Mode, p Period) error {
	ps := Periods(mode)
	if slices.Contains(ps, p) {
		return nil
	}
	names := make([]string, len(ps))
	for i, x := range ps {
		names[i] = string(x)
	}
	return fmt.Errorf("period %s is not offered in %s mode: use one of %s", p, mode, strings.Join(names, ", "))
}

// Days returns the UTC days a period covers at now: from its first day to
// today, both included. A period of N days is today and the N-1 days before;
// a period of N months starts the day after the same date N months ago.
// ALL_TIME starts at first, the earliest day with data.
func (p Period) Days(now, first time.Time) (from, to time.Time) {
	n := now.UTC()
	to = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case Last7Days:
		from = to.AddDate(0, 0, -6)
	case Last30Days:
		from = to.AddDate(0, 0, -29)
	case Last90Days:
		from = to.AddDate(0, 0, -89)
	case Last3Months:
		from = to.AddDate(0, -3, 1)
	case Last6Months:
		from = to.AddDate(0, -6, 1)
	case Last12Months:
		from = to.AddDate(0, -12, 1)
	case AllTime:
		f := first.UTC()
		from = time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, time.UTC)
		if from.IsZero() || from.After(to) {
			from = to
		}
	}
	return from, to
}
