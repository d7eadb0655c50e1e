package activity

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDays(t *testing.T) {
	now := time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		p    Period
		from time.Time
	}{
		{Last7Days, date(2026, 3, 25)},
		{Last30Days, date(2026, 3, 2)},
		{Last90Days, date(2026, 1, 1)},
		{Last3Months, date(2026, 1, 1)},  // Dec 31 + 1 day
		{Last6Months, date(2025, 10, 2)}, // Oct 1 + 1 day
		{Last12Months, date(2025, 4, 1)}, // Mar 31 2025 + 1 day
		{AllTime, date(2024, 2, 29)},
	} {
		t.Run(string(tc.p), func(t *testing.T) {
			from, to := tc.p.Days(now, time.Date(2024, 2, 29, 13, 0, 0, 0, time.UTC))
			if !from.Equal(tc.from) || !to.Equal(date(2026, 3, 31)) {
				t.Errorf("%s.Days(%v) = %v..%v, want %v..2026-03-31", tc.p, now, from, to, tc.from)
			}
		})
	}
	// UTC midnight belongs to the new day; other zones are converted.
	from, to := Last7Days.Days(time.Date(2026, 4, 1, 0, 30, 0, 0, time.FixedZone("E", 3*3600)), time.Time{})
	if !to.Equal(date(2026, 3, 31)) || !from.Equal(date(2026, 3, 25)) {
		t.Errorf("Days across a zone = %v..%v, want 2026-03-25..2026-03-31", from, to)
	}
	if from, to := AllTime.Days(now, time.Time{}); !from.Equal(to) {
		t.Errorf("ALL_TIME without data = %v..%v, want today only", from, to)
	}
}

func TestPeriodsAndDefaults(t *testing.T) {
	for _, tc := range []struct {
		mode  deployment.Mode
		panel Panel
		want  Period
	}{
		{deployment.SelfManaged, TotalActiveUsers, Last3Months},
		{deployment.SelfManaged, UsersActiveOverTime, Last6Months},
		{deployment.Dedicated, UsersActiveOverTime, Last6Months},
		{deployment.MultiTenant, TotalActiveUsers, Last30Days},
		{deployment.MultiTenant, WeeklyActiveUsers, Last30Days},
		{deployment.MultiTenant, MostActiveUsers, Last30Days},
	} {
		t.Run(fmt.Sprintf("%s panel %d", tc.mode, tc.panel), func(t *testing.T) {
			if got := Default(tc.mode, tc.panel); got != tc.want {
				t.Errorf("Default(%s, %d) = %s, want %s", tc.mode, tc.panel, got, tc.want)
			}
			if err := Check(tc.mode, tc.want); err != nil {
				t.Errorf("Check(%s, default %s) = %v", tc.mode, tc.want, err)
			}
		})
	}
	if err := Check(deployment.SelfManaged, Last7Days); err == nil || !strings.Contains(err.Error(), "LAST_30_DAYS, LAST_3_MONTHS, LAST_6_MONTHS, LAST_12_MONTHS, ALL_TIME") {
		t.Errorf("Check(self-managed, LAST_7_DAYS) = %v, want an error listing the allowed periods", err)
	}
	if err := Check(deployment.MultiTenant, AllTime); err == nil || !strings.Contains(err.Error(), "LAST_7_DAYS, LAST_30_DAYS, LAST_90_DAYS, LAST_6_MONTHS, LAST_12_MONTHS") {
		t.Errorf("Check(multi-tenant, ALL_TIME) = %v, want an error listing the allowed periods", err)
	}
}
