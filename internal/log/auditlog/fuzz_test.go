package auditlog

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"numDays=7&anonymize=true",
		"numdays=9&startDate=2024-02-29",
		"startDate=2026-01-01&numDays=2",
		"NUMDAYS=-1",
		"startDate=2023-13-45&anonymize=maybe",
		"limit=20000&cursor=eyJ0IjoiMjAyNiJ9",
		"startDate=2026-03-01T08:30&endDate=2026-03-01T09Z&limit=10",
		"startDate=0000-01-01&endDate=9999-12-31T23:59:59",
		"endDate=0000-01-01",
		"numDays=36500&startDate=0000-01-01",
		"numDays=99999999999999999999&limit=1",
		"endDate=2026-01-02&numDays=1",
		"numDays=1&NumDays=2&org=acme",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			t.Skip()
		}
		for _, mode := range []deployment.Mode{deployment.SelfManaged, deployment.MultiTenant} {
			q, err := Parse(values, mode, now)
			if err != nil {
				var pe *ParamError
				if !errors.As(err, &pe) || pe.Param == "" {
					t.Fatalf("Parse(%q) in %s = %v, want a *ParamError naming a parameter", raw, mode, err)
				}
				continue
			}
			if !q.Start.Before(q.End) || q.Start.Location() != time.UTC || q.End.Location() != time.UTC {
				t.Fatalf("Parse(%q) in %s = %v .. %v, want a non-empty UTC window", raw, mode, q.Start, q.End)
			}
			if q.Limit < 0 || q.Limit > MaxLimit || q.Paginated != (q.Limit > 0) {
				t.Fatalf("Parse(%q) in %s = limit %d, paginated %v, want 0 unpaginated or 1..%d", raw, mode, q.Limit, q.Paginated, MaxLimit)
			}
			if mode.MultiTenant() && (q.Anonymize || q.End.Sub(q.Start) > MaxSpan) {
				t.Fatalf("Parse(%q) in %s = %+v, want no anonymizing and at most %v", raw, mode, q, MaxSpan)
			}
		}
	})
}
