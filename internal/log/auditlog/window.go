// Package auditlog decides the time window and options of an audit-log fetch
// (GET /admin/audit_logs), so that REST and GraphQL share one reading of
// numDays, startDate, endDate and the multi-tenant caps.
package auditlog

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// Query is a parsed request.
type Query struct {
	Start, End time.Time // UTC; Start inclusive, End exclusive
	Anonymize  bool
	// Paginated is true when limit, endDate or cursor was given: the answer is
	// one JSON envelope instead of NDJSON.
	Paginated bool
	Limit     int    // 0 when not paginated; 1000 when paginated and no limit given
	Cursor    string // raw opaque cursor, "" if none (validated by the store)
	// Org is the optional org parameter, an auditgraph extension naming the
	// organization for admins of several.
	Org string
	// AnonymizeIgnored is true in multi-tenant mode when anonymize=true was
	// asked for: multi-tenant always includes PII.
	AnonymizeIgnored bool
	// Capped is true when multi-tenant cut the window to 7 days.
	Capped bool
}

// ParamError is a bad parameter: the handler answers 400 with Error().
type ParamError struct{ Param, Value, Reason string }

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: %q is not allowed: %s", e.Param, e.Value, e.Reason)
}

const (
	// MaxNumDays is the multi-tenant cap on numDays.
	MaxNumDays = 7
	// MaxLimit is the largest page a paginated request may ask for.
	MaxLimit = 20000

	defaultLimit = 1000
	// maxDays bounds numDays where nothing caps it: a hundred years reaches
	// back before any stored event, and more only hints at a mistake.
	maxDays = 36500
	// MaxSpan is the longest multi-tenant explicit range: the 7 capped days
	// plus the start day, as long as the longest classic window.
	MaxSpan = (MaxNumDays + 1) * 24 * time.Hour
)

// The parameters, spelled as documented; requests may use any case.
const (
	paramNumDays   = "numDays"
	paramStartDate = "startDate"
	paramEndDate   = "endDate"
	paramAnonymize = "anonymize"
	paramLimit     = "limit"
	paramCursor    = "cursor"
	paramOrg       = "org"
)

var params = []string{paramNumDays, paramStartDate, paramEndDate, paramAnonymize, paramLimit, paramCursor, paramOrg}

// Window returns the classic whole-UTC-day window: the day of startDay (the
// newest day) and numDays days before it. In multi-tenant mode numDays above
// MaxNumDays acts as MaxNumDays and capped is true. A negative numDays counts
// as 0; callers bound the other end (Parse refuses more than 36500 days).
func Window(startDay time.Time, numDays int, mode deployment.Mode) (start, end time.Time, capped bool) {
	y, m, d := startDay.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	numDays = max(numDays, 0)
	if mode.MultiTenant() && numDays > MaxNumDays {
		numDays, capped = MaxNumDays, true
	}
	return day.AddDate(0, 0, -numDays), day.AddDate(0, 0, 1), capped
}

// Span applies the multi-tenant cap to an explicit range [start, end), as
// REST's startDate/endDate and GraphQL's from/to give it: a range longer
// than MaxSpan starts MaxSpan before end, and capped is true. Other modes
// take the range as it is.
func Span(start, end time.Time, mode deployment.Mode) (newStart time.Time, capped bool) {
	// Sub saturates, so even a range of millennia is seen as too long.
	if mode.MultiTenant() && end.Sub(start) > MaxSpan {
		return end.Add(-MaxSpan), true
	}
	return start, false
}

// Parse reads the query string of an audit-log fetch. now is the current
// time; its UTC date is "today". The error is always a *ParamError.
func Parse(values url.Values, mode deployment.Mode, now time.Time) (Query, error) {
	p, err := collect(values)
	if err != nil {
		return Query{}, err
	}
	q := Query{Cursor: p[paramCursor], Org: p[paramOrg]}

	switch v := p[paramAnonymize]; {
	case v == "" || strings.EqualFold(v, "false"):
	case strings.EqualFold(v, "true"):
		q.Anonymize = !mode.MultiTenant()
		q.AnonymizeIgnored = mode.MultiTenant()
	default:
		return Query{}, &ParamError{paramAnonymize, v, "want true or false"}
	}

	numDaysValue, hasNumDays := p[paramNumDays]
	numDays := 0
	if hasNumDays {
		n, ok := wholeNumber(numDaysValue)
		if !ok {
			return Query{}, &ParamError{paramNumDays, numDaysValue, "want a whole number of days, 0 or more"}
		}
		// Multi-tenant caps any count at 7, so only the uncapped modes refuse.
		if n > maxDays && !mode.MultiTenant() {
			return Query{}, &ParamError{paramNumDays, numDaysValue, fmt.Sprintf("too large: at most %d days", maxDays)}
		}
		numDays = n
	}

	limitValue, hasLimit := p[paramLimit]
	endValue, hasEnd := p[paramEndDate]
	q.Paginated = hasLimit || hasEnd || q.Cursor != ""
	if q.Paginated {
		q.Limit = defaultLimit
	}
	if hasLimit {
		n, ok := wholeNumber(limitValue)
		if !ok || n < 1 || n > MaxLimit {
			return Query{}, &ParamError{paramLimit, limitValue, fmt.Sprintf("want a whole number from 1 to %d", MaxLimit)}
		}
		q.Limit = n
	}

	startValue, hasStart := p[paramStartDate]
	if hasEnd {
		if hasNumDays {
			return Query{}, &ParamError{paramEndDate, endValue, "cannot be combined with numDays"}
		}
		const formats = "want YYYY-MM-DD, YYYY-MM-DDTHH, YYYY-MM-DDTHH:mm or YYYY-MM-DDTHH:mm:ss (UTC)"
		end, _, ok := instant(endValue)
		if !ok {
			return Query{}, &ParamError{paramEndDate, endValue, formats}
		}
		start := end.Add(-24 * time.Hour)
		if hasStart {
			if start, _, ok = instant(startValue); !ok {
				return Query{}, &ParamError{paramStartDate, startValue, formats}
			}
			if !start.Before(end) {
				return Query{}, &ParamError{paramStartDate, startValue, "must be before endDate"}
			}
		}
		start, q.Capped = Span(start, end, mode)
		q.Start, q.End = start, end
		return q, nil
	}

	day := now
	if hasStart {
		t, timeOfDay, ok := instant(startValue)
		if !ok {
			return Query{}, &ParamError{paramStartDate, startValue, "want a real date as YYYY-MM-DD"}
		}
		if timeOfDay {
			return Query{}, &ParamError{paramStartDate, startValue, "a time of day needs endDate"}
		}
		day = t
	}
	q.Start, q.End, q.Capped = Window(day, numDays, mode)
	return q, nil
}

// collect returns the known parameters under their documented names. An
// empty value counts as absent, so repeats conflict only when two non-empty
// values differ. Keys are visited in sorted order so that the error is the
// same on every run.
func collect(values url.Values) (map[string]string, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	got := make(map[string]string)
	for _, k := range keys {
		i := slices.IndexFunc(params, func(p string) bool { return strings.EqualFold(p, k) })
		if i < 0 {
			continue // scripts pass extras
		}
		name := params[i]
		for _, v := range values[k] {
			if v == "" {
				continue
			}
			if prev, seen := got[name]; seen && prev != v {
				return nil, &ParamError{name, v, fmt.Sprintf("given more than once (also as %q)", prev)}
			}
			got[name] = v
		}
	}
	return got, nil
}

// wholeNumber reads s as ASCII digits only, refusing signs, spaces and
// fractions; a number beyond int reads as math.MaxInt so that callers see it
// as too large rather than as malformed.
func wholeNumber(s string) (int, bool) {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return math.MaxInt, true
	}
	return n, true
}

// instantShape is the longest accepted form, d standing for a digit; every
// shorter form is a prefix of it. Checking the shape first matters because
// time.Parse takes one-digit hours.
const instantShape = "dddd-dd-ddTdd:dd:dd"

var instantLayouts = map[int]string{
	len("2006-01-02"):          "2006-01-02",
	len("2006-01-02T15"):       "2006-01-02T15",
	len("2006-01-02T15:04"):    "2006-01-02T15:04",
	len("2006-01-02T15:04:05"): "2006-01-02T15:04:05",
}

// instant reads a UTC instant as YYYY-MM-DD, optionally followed by THH,
// THH:mm or THH:mm:ss and then optionally Z; missing parts are zero.
// timeOfDay reports whether a time part was given.
func instant(s string) (t time.Time, timeOfDay, ok bool) {
	const dateLen = len("2006-01-02")
	if trimmed, found := strings.CutSuffix(s, "Z"); found && len(trimmed) > dateLen {
		s = trimmed // Z marks UTC only after a time of day, as in RFC 3339
	}
	layout, known := instantLayouts[len(s)]
	if !known {
		return time.Time{}, false, false
	}
	for i := range len(s) {
		if instantShape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false, false
			}
		} else if s[i] != instantShape[i] {
			return time.Time{}, false, false
		}
	}
	t, err := time.Parse(layout, s) // refuses 2023-13-45 and 2023-02-30
	if err != nil {
		return time.Time{}, false, false
	}
	return t, len(s) > dateLen, true
}
