package auditlog

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// at reads an RFC 3339 instant, or a bare date as its UTC midnight.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	layout := time.RFC3339Nano
	if len(s) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	v, err := time.Parse(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameQuery compares instants with Equal and the rest with ==.
func sameQuery(a, b Query) bool {
	if !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
		return false
	}
	a.Start, a.End, b.Start, b.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

const (
	sm = deployment.SelfManaged
	dd = deployment.Dedicated
	mt = deployment.MultiTenant
)

func TestParse(t *testing.T) {
	const defaultNow = "2026-03-10T12:00:00Z"
	tests := []struct {
		query string
		mode  deployment.Mode
		now   string // defaultNow when empty
		want  Query
		// start and end are the expected window; want's own times are ignored.
		start, end string
	}{
		// Neither parameter: today only, today being now's UTC date.
		{"", sm, "2026-03-01T00:00:00Z", Query{}, "2026-03-01", "2026-03-02"},
		{"", sm, "2026-02-28T23:59:59.999Z", Query{}, "2026-02-28", "2026-03-01"},
		{"", mt, "2026-02-28T23:59:59.999Z", Query{}, "2026-02-28", "2026-03-01"},
		{"", sm, "2026-03-01T01:00:00+02:00", Query{}, "2026-02-28", "2026-03-01"},
		{"numDays=&startDate=&anonymize=&limit=&endDate=&cursor=&org=", sm, "", Query{}, "2026-03-10", "2026-03-11"},

		// numDays counts backward from today; multi-tenant caps it at 7.
		{"numDays=0", sm, "", Query{}, "2026-03-10", "2026-03-11"},
		{"numDays=1", sm, "", Query{}, "2026-03-09", "2026-03-11"},
		{"numDays=7", sm, "", Query{}, "2026-03-03", "2026-03-11"},
		{"numDays=9", sm, "", Query{}, "2026-03-01", "2026-03-11"},
		{"numDays=9", dd, "", Query{}, "2026-03-01", "2026-03-11"},
		{"numDays=1", mt, "", Query{}, "2026-03-09", "2026-03-11"},
		{"numDays=7", mt, "", Query{}, "2026-03-03", "2026-03-11"},
		{"numDays=9", mt, "", Query{Capped: true}, "2026-03-03", "2026-03-11"},
		{"numDays=36501", mt, "", Query{Capped: true}, "2026-03-03", "2026-03-11"},
		{"numDays=99999999999999999999999", mt, "", Query{Capped: true}, "2026-03-03", "2026-03-11"},
		{"numDays=36500", sm, "", Query{}, "1926-04-04", "2026-03-11"},
		{"numDays=007", sm, "", Query{}, "2026-03-03", "2026-03-11"},

		// startDate is the newest day.
		{"startDate=2026-03-01&numDays=1", sm, "", Query{}, "2026-02-28", "2026-03-02"},
		{"startDate=2024-03-01&numDays=1", sm, "", Query{}, "2024-02-29", "2024-03-02"},
		{"startDate=2026-01-01&numDays=2", sm, "", Query{}, "2025-12-30", "2026-01-02"},
		{"startDate=2024-02-29", sm, "", Query{}, "2024-02-29", "2024-03-01"},
		{"startDate=2027-06-01", sm, "", Query{}, "2027-06-01", "2027-06-02"},
		{"startDate=2026-01-01&numDays=30", mt, "", Query{Capped: true}, "2025-12-25", "2026-01-02"},

		// Parameter names in any case; unknown parameters ignored.
		{"numdays=1", sm, "", Query{}, "2026-03-09", "2026-03-11"},
		{"NUMDAYS=1", sm, "", Query{}, "2026-03-09", "2026-03-11"},
		{"startdate=2026-03-01&NumDays=1", sm, "", Query{}, "2026-02-28", "2026-03-02"},
		{"STARTDATE=2026-03-01", sm, "", Query{}, "2026-03-01", "2026-03-02"},
		{"Anonymize=TRUE", sm, "", Query{Anonymize: true}, "2026-03-10", "2026-03-11"},
		{"ENDDATE=2026-03-02&LIMIT=5&Cursor=abc&ORG=acme", sm, "", Query{Paginated: true, Limit: 5, Cursor: "abc", Org: "acme"}, "2026-03-01", "2026-03-02"},
		{"numDays=1&format=json&verbose", sm, "", Query{}, "2026-03-09", "2026-03-11"},

		// Identical repeats, in any case, and empty repeats are fine.
		{"numDays=1&numDays=1", sm, "", Query{}, "2026-03-09", "2026-03-11"},
		{"numDays=1&numdays=1", sm, "", Query{}, "2026-03-09", "2026-03-11"},
		{"numDays=&numDays=2", sm, "", Query{}, "2026-03-08", "2026-03-11"},

		// anonymize; multi-tenant ignores it and says so.
		{"anonymize=true", sm, "", Query{Anonymize: true}, "2026-03-10", "2026-03-11"},
		{"anonymize=True", dd, "", Query{Anonymize: true}, "2026-03-10", "2026-03-11"},
		{"anonymize=false", sm, "", Query{}, "2026-03-10", "2026-03-11"},
		{"anonymize=FALSE", sm, "", Query{}, "2026-03-10", "2026-03-11"},
		{"anonymize=true", mt, "", Query{AnonymizeIgnored: true}, "2026-03-10", "2026-03-11"},
		{"anonymize=false", mt, "", Query{}, "2026-03-10", "2026-03-11"},

		{"org=acme%20corp", sm, "", Query{Org: "acme corp"}, "2026-03-10", "2026-03-11"},

		// limit or cursor alone: paginated, classic day window.
		{"limit=1", sm, "", Query{Paginated: true, Limit: 1}, "2026-03-10", "2026-03-11"},
		{"limit=20000", sm, "", Query{Paginated: true, Limit: 20000}, "2026-03-10", "2026-03-11"},
		{"limit=50&startDate=2026-03-01&numDays=1", sm, "", Query{Paginated: true, Limit: 50}, "2026-02-28", "2026-03-02"},
		{"limit=50&numDays=9", mt, "", Query{Paginated: true, Limit: 50, Capped: true}, "2026-03-03", "2026-03-11"},
		{"cursor=opaque", sm, "", Query{Paginated: true, Limit: 1000, Cursor: "opaque"}, "2026-03-10", "2026-03-11"},

		// endDate: exclusive, start defaults to 24 hours before it, sub-day formats.
		{"endDate=2026-03-02", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},
		{"endDate=2026-03-02T10", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z"},
		{"endDate=2026-03-02T10:30", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T10:30:00Z", "2026-03-02T10:30:00Z"},
		{"endDate=2026-03-02T10:30:15", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T10:30:15Z", "2026-03-02T10:30:15Z"},
		{"endDate=2026-03-02T10:30:15Z", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T10:30:15Z", "2026-03-02T10:30:15Z"},
		{"startDate=2026-03-01&endDate=2026-03-01T00:00:01", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z"},
		{"startDate=2026-03-01T08&endDate=2026-03-01T09", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z"},
		{"startDate=2026-03-01T08:30&endDate=2026-03-01T09Z", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T08:30:00Z", "2026-03-01T09:00:00Z"},
		{"startDate=2026-03-01T08:30:15Z&endDate=2026-03-01T08:30:16&limit=7&cursor=c", sm, "", Query{Paginated: true, Limit: 7, Cursor: "c"}, "2026-03-01T08:30:15Z", "2026-03-01T08:30:16Z"},
		{"startDate=2024-02-29T23&endDate=2024-03-01T01", sm, "", Query{Paginated: true, Limit: 1000}, "2024-02-29T23:00:00Z", "2024-03-01T01:00:00Z"},
		{"endDate=2026-03-02&numDays=", sm, "", Query{Paginated: true, Limit: 1000}, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},

		// Multi-tenant keeps at most 8 days before endDate (7 plus the start day).
		{"startDate=2026-01-01&endDate=2026-03-01", sm, "", Query{Paginated: true, Limit: 1000}, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"startDate=2026-01-01&endDate=2026-03-01", mt, "", Query{Paginated: true, Limit: 1000, Capped: true}, "2026-02-21T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"startDate=2026-02-21&endDate=2026-03-01", mt, "", Query{Paginated: true, Limit: 1000}, "2026-02-21T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"startDate=2026-02-20T23:59:59&endDate=2026-03-01", mt, "", Query{Paginated: true, Limit: 1000, Capped: true}, "2026-02-21T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"startDate=2026-03-01T12&endDate=2026-03-03T06&anonymize=true", mt, "", Query{Paginated: true, Limit: 1000, AnonymizeIgnored: true}, "2026-03-01T12:00:00Z", "2026-03-03T06:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s in %s at %s", tt.query, tt.mode, cmp.Or(tt.now, "default")), func(t *testing.T) {
			now := tt.now
			if now == "" {
				now = defaultNow
			}
			want := tt.want
			want.Start, want.End = at(t, tt.start), at(t, tt.end)
			got, err := Parse(mustQuery(t, tt.query), tt.mode, at(t, now))
			if err != nil || !sameQuery(got, want) {
				t.Errorf("Parse(%q) in %s at %s = %+v, %v, want %+v", tt.query, tt.mode, now, got, err, want)
				return
			}
			if got.Start.Location() != time.UTC || got.End.Location() != time.UTC {
				t.Errorf("Parse(%q) = %v .. %v, want both in UTC", tt.query, got.Start, got.End)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		query  string
		mode   deployment.Mode
		param  string
		reason string // a part of the reason, when it matters
	}{
		{"numDays=-1", sm, "numDays", "0 or more"},
		{"numDays=-1", mt, "numDays", ""},
		{"numDays=abc", sm, "numDays", ""},
		{"numDays=1.5", sm, "numDays", ""},
		{"numDays=%2B3", sm, "numDays", ""},
		{"numDays=%203", sm, "numDays", ""},
		{"numDays=3%20", sm, "numDays", ""},
		{"numDays=1e3", mt, "numDays", ""},
		{"numDays=0x10", sm, "numDays", ""},
		{"numDays=36501", sm, "numDays", "too large"},
		{"numDays=36501", dd, "numDays", "too large"},
		{"numDays=99999999999999999999999", sm, "numDays", "too large"},
		{"NUMDAYS=-1", sm, "numDays", ""},

		{"startDate=2023-13-45", sm, "startDate", ""},
		{"startDate=2023-02-30", sm, "startDate", ""},
		{"startDate=2026-02-29", sm, "startDate", ""},
		{"startDate=23-01-01", sm, "startDate", ""},
		{"startDate=2023-1-1", sm, "startDate", ""},
		{"startDate=2023%2F01%2F01", sm, "startDate", ""},
		{"startDate=today", sm, "startDate", ""},
		{"startDate=2026-03-01Z", sm, "startDate", ""},
		{"startdate=2023-13-45", mt, "startDate", ""},

		// A time of day needs endDate, in classic mode and with limit alone.
		{"startDate=2026-03-01T10", sm, "startDate", "needs endDate"},
		{"startDate=2026-03-01T10:00", sm, "startDate", "needs endDate"},
		{"startDate=2026-03-01T10:00:00", sm, "startDate", "needs endDate"},
		{"startDate=2026-03-01T10:00:00Z", mt, "startDate", "needs endDate"},
		{"startDate=2026-03-01T00&limit=5", sm, "startDate", "needs endDate"},
		{"startDate=2026-03-01T10&cursor=c", sm, "startDate", "needs endDate"},

		// Paginated formats are strict.
		{"endDate=2026-03-01T1", sm, "endDate", ""},
		{"endDate=2026-03-01T24", sm, "endDate", ""},
		{"endDate=2026-03-01T10:60", sm, "endDate", ""},
		{"endDate=2026-03-01T10:00:60", sm, "endDate", ""},
		{"endDate=2026-03-01%2010:00", sm, "endDate", ""},
		{"endDate=2026-03-01T10:00:00.5", sm, "endDate", ""},
		{"endDate=2026-03-01T10:00:00%2B02:00", sm, "endDate", ""},
		{"endDate=2026-03-01T10ZZ", sm, "endDate", ""},
		{"endDate=2026-03-01Z", sm, "endDate", ""},
		{"endDate=tomorrow", sm, "endDate", ""},
		{"startDate=2026-03-01T7&endDate=2026-03-02", sm, "startDate", ""},

		// Start must come before the exclusive end.
		{"startDate=2026-03-02&endDate=2026-03-01", sm, "startDate", "before endDate"},
		{"startDate=2026-03-01&endDate=2026-03-01", mt, "startDate", "before endDate"},
		{"startDate=2026-03-01T10:00:01&endDate=2026-03-01T10", sm, "startDate", "before endDate"},

		{"endDate=2026-01-02&numDays=1", sm, "endDate", "cannot be combined with numDays"},
		{"endDate=2026-01-02&numDays=0", mt, "endDate", "cannot be combined with numDays"},
		{"numdays=3&ENDDATE=2026-01-02&limit=10", sm, "endDate", "cannot be combined with numDays"},

		{"anonymize=maybe", sm, "anonymize", ""},
		{"anonymize=1", sm, "anonymize", ""},
		{"anonymize=yes", sm, "anonymize", ""},
		{"anonymize=yes", mt, "anonymize", ""},
		{"ANONYMIZE=0", sm, "anonymize", ""},

		{"limit=0", sm, "limit", "1 to 20000"},
		{"limit=20001", sm, "limit", ""},
		{"limit=abc", sm, "limit", ""},
		{"limit=-5", sm, "limit", ""},
		{"limit=1.5", mt, "limit", ""},
		{"limit=99999999999999999999999", sm, "limit", ""},
		{"endDate=2026-03-02&limit=0", sm, "limit", ""},

		// The same parameter with different values, in any case.
		{"numDays=1&numDays=2", sm, "numDays", "given more than once"},
		{"numDays=1&NUMDAYS=2", sm, "numDays", "given more than once"},
		{"startDate=2026-03-01&startdate=2026-03-02", sm, "startDate", "given more than once"},
		{"endDate=2026-03-01&EndDate=2026-03-02", sm, "endDate", "given more than once"},
		{"anonymize=true&anonymize=false", mt, "anonymize", "given more than once"},
		{"limit=1&Limit=2", sm, "limit", "given more than once"},
		{"cursor=a&Cursor=b", sm, "cursor", "given more than once"},
		{"org=a&org=b", sm, "org", "given more than once"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s in %s", tt.query, tt.mode), func(t *testing.T) {
			got, err := Parse(mustQuery(t, tt.query), tt.mode, at(t, "2026-03-10T12:00:00Z"))
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Param != tt.param || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Parse(%q) in %s = %+v, %v, want a *ParamError naming %s (%q)", tt.query, tt.mode, got, err, tt.param, tt.reason)
				return
			}
			if got != (Query{}) {
				t.Errorf("Parse(%q) = %+v with an error, want the zero Query", tt.query, got)
			}
		})
	}
}

func TestParamErrorMessage(t *testing.T) {
	tests := []struct{ query, want string }{
		{"numDays=-1", `numDays: "-1" is not allowed: want a whole number of days, 0 or more`},
		{"numdays=abc", `numDays: "abc" is not allowed: want a whole number of days, 0 or more`},
		{"endDate=2026-01-02&numDays=1", `endDate: "2026-01-02" is not allowed: cannot be combined with numDays`},
		{"numDays=1&numdays=2", `numDays: "2" is not allowed: given more than once (also as "1")`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := Parse(mustQuery(t, tt.query), sm, at(t, "2026-03-10T12:00:00Z"))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) = %v, want %v", tt.query, err, tt.want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		startDay   time.Time
		numDays    int
		mode       deployment.Mode
		start, end string
		capped     bool
	}{
		{time.Date(2026, 3, 1, 0, 30, 0, 0, berlin), 0, sm, "2026-02-28", "2026-03-01", false},
		{time.Date(2026, 3, 1, 23, 59, 59, 999, time.UTC), 1, sm, "2026-02-28", "2026-03-02", false},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), -3, sm, "2026-03-01", "2026-03-02", false},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 9, dd, "2026-02-20", "2026-03-02", false},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 9, mt, "2026-02-22", "2026-03-02", true},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), MaxNumDays, mt, "2026-02-22", "2026-03-02", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s+%d %s", tt.startDay.Format(time.RFC3339), tt.numDays, tt.mode), func(t *testing.T) {
			start, end, capped := Window(tt.startDay, tt.numDays, tt.mode)
			if !start.Equal(at(t, tt.start)) || !end.Equal(at(t, tt.end)) || capped != tt.capped || start.Location() != time.UTC || end.Location() != time.UTC {
				t.Errorf("Window(%v, %d, %s) = %v, %v, %v, want %s, %s, %v", tt.startDay, tt.numDays, tt.mode, start, end, capped, tt.start, tt.end, tt.capped)
			}
		})
	}
}

func TestSpan(t *testing.T) {
	end := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		mode       deployment.Mode
		start      time.Time
		want       time.Time
		wantCapped bool
	}{
		{deployment.MultiTenant, end.AddDate(0, 0, -8), end.AddDate(0, 0, -8), false},
		{deployment.MultiTenant, end.AddDate(0, 0, -8).Add(-time.Second), end.AddDate(0, 0, -8), true},
		{deployment.MultiTenant, end.AddDate(-1000, 0, 0), end.AddDate(0, 0, -8), true},
		{deployment.SelfManaged, end.AddDate(-1000, 0, 0), end.AddDate(-1000, 0, 0), false},
		{deployment.Dedicated, end.AddDate(0, 0, -12), end.AddDate(0, 0, -12), false},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.mode, end.Sub(tc.start)), func(t *testing.T) {
			got, capped := Span(tc.start, end, tc.mode)
			if !got.Equal(tc.want) || capped != tc.wantCapped {
				t.Errorf("Span(%v, %v, %s) = %v, %v; want %v, %v", tc.start, end, tc.mode, got, capped, tc.want, tc.wantCapped)
			}
		})
	}
}
