package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/lib/pq"
)

// The activity panels read the bitmaps of migration 0014 (ApplyActivity
// keeps them current): per organization and UTC day, week and month, the
// set of members active in it (bit activity_members.member_no), with the
// day's count; and per month each member's active days. A panel reads a
// row per whole month, whole week or odd day of its period, whatever the
// number of members: the daily series the days' counts; the totals the
// union of the period's whole months, then whole weeks, then odd days
// (OR-ed here); the weekly series each week's bitmap, or for a week cut by
// the period its days'; the most active members the month counts of the
// whole months plus the bitmaps of the odd days, added up here. Their
// answers equal the *Rollup methods' on activity_days.

// piece is a stored bitmap (or month counts) of a day, week or month.
type piece struct {
	Span  string    `db:"span"` // "d", "w", "m"; "c" for month counts
	Start time.Time `db:"start"`
	Bits  []byte    `db:"bits"`
}

// bitset is a set of member numbers: bit n%64 of word n/64.
type bitset []uint64

// or adds the stored bitmap b (bit n%8 of byte n/8) to s, lengthening s as
// needed, and returns s.
func (s bitset) or(b []byte) bitset {
	if n := (len(b) + 7) / 8; n > len(s) {
		s = append(s, make(bitset, n-len(s))...)
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		s[i/8] |= binary.LittleEndian.Uint64(b[i:])
	}
	for j := i; j < len(b); j++ {
		s[i/8] |= uint64(b[j]) << (8 * (j - i))
	}
	return s
}

// count returns the number of members in s.
func (s bitset) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// pieceList is the stored rows a query asks for, by kind.
type pieceList struct{ days, weeks, months, counts []string }

func (l *pieceList) add(span string, t time.Time) {
	d := t.Format(time.DateOnly)
	switch span {
	case "d":
		l.days = append(l.days, d)
	case "w":
		l.weeks = append(l.weeks, d)
	case "m":
		l.months = append(l.months, d)
	case "c":
		l.counts = append(l.counts, d)
	}
}

// fetch reads the listed rows in one statement; rows that do not exist
// (no activity then) are left out.
func (q queries) fetch(ctx context.Context, orgID int64, l pieceList) ([]piece, error) {
	var ps []piece
	err := q.sel(ctx, &ps, `SELECT 'd' AS span, day AS start, bits FROM activity_day_bits WHERE org_id = $1 AND day = ANY($2::date[])
		UNION ALL SELECT span::text, start, bits FROM activity_span_bits
			WHERE org_id = $1 AND (span = 'w' AND start = ANY($3::date[]) OR span = 'm' AND start = ANY($4::date[]))
		UNION ALL SELECT 'c', month, days FROM activity_month_counts WHERE org_id = $1 AND month = ANY($5::date[])`,
		orgID, pq.StringArray(l.days), pq.StringArray(l.weeks), pq.StringArray(l.months), pq.StringArray(l.counts))
	return ps, err
}

func monthEnd(d time.Time) time.Time { return d.AddDate(0, 1, -d.Day()) }

// cover lists pieces whose union is exactly the days from `from` to `to`:
// the whole months, and around them whole weeks (a week may overlap a month
// already listed: unions do not mind) and odd days.
func cover(l *pieceList, from, to time.Time) {
	d := utcDay(from)
	to = utcDay(to)
	for !d.After(to) {
		if d.Day() == 1 && !monthEnd(d).After(to) {
			l.add("m", d)
			d = d.AddDate(0, 1, 0)
			continue
		}
		// Up to the next month that fits whole, or to the end.
		stop := to
		if next := d.AddDate(0, 1, 1-d.Day()); !monthEnd(next).After(to) {
			stop = next.AddDate(0, 0, -1)
		}
		for !d.After(stop) {
			if d.Weekday() == time.Monday && !d.AddDate(0, 0, 6).After(to) {
				l.add("w", d)
				d = d.AddDate(0, 0, 7)
			} else {
				l.add("d", d)
				d = d.AddDate(0, 0, 1)
			}
		}
		if d.After(stop.AddDate(0, 0, 1)) { // a week ran into the next month
			d = stop.AddDate(0, 0, 1)
		}
	}
}

// ActiveUsers counts the distinct users of an organization active on a day
// from `from` to `to`, both included: the size of the union of the
// period's whole months, whole weeks and odd days.
func (q queries) ActiveUsers(ctx context.Context, orgID int64, from, to time.Time) (int, error) {
	var l pieceList
	cover(&l, from, to)
	ps, err := q.fetch(ctx, orgID, l)
	if err != nil {
		return 0, fmt.Errorf("storage: active users of organization %d: %w", orgID, err)
	}
	var u bitset
	for _, p := range ps {
		u = u.or(p.Bits)
	}
	return u.count(), nil
}

// DailyActiveUsers returns one point per day from `from` to `to`, days
// without activity included as zero: the days' counts, kept with their
// bitmaps.
func (q queries) DailyActiveUsers(ctx context.Context, orgID int64, from, to time.Time) ([]DayCount, error) {
	var ds []DayCount
	err := q.sel(ctx, &ds, `SELECT day, users FROM activity_day_bits WHERE org_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day`,
		orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: daily active users of organization %d: %w", orgID, err)
	}
	return fillDays(ds, from, to), nil
}

// monday returns the Monday of t's week (weeks start on Monday).
func monday(t time.Time) time.Time {
	d := utcDay(t)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// WeeklyActiveUsers returns one point per week (weeks start on Monday) that
// overlaps `from`..`to`, counting the distinct users active in that week
// within the range; weeks without activity are zero. Day is the week's
// Monday. A week within the range is its stored bitmap's size; a week the
// range cuts, the size of the union of its days in the range.
func (q queries) WeeklyActiveUsers(ctx context.Context, orgID int64, from, to time.Time) ([]DayCount, error) {
	from, to = utcDay(from), utcDay(to)
	var l pieceList
	var out []DayCount
	for w := monday(from); !w.After(to); w = w.AddDate(0, 0, 7) {
		out = append(out, DayCount{Day: w})
		if !w.Before(from) && !w.AddDate(0, 0, 6).After(to) {
			l.add("w", w)
			continue
		}
		d := w
		if d.Before(from) {
			d = from
		}
		for ; !d.After(to) && d.Before(w.AddDate(0, 0, 7)); d = d.AddDate(0, 0, 1) {
			l.add("d", d)
		}
	}
	ps, err := q.fetch(ctx, orgID, l)
	if err != nil {
		return nil, fmt.Errorf("storage: weekly active users of organization %d: %w", orgID, err)
	}
	weeks := map[time.Time]bitset{}
	for _, p := range ps {
		w := monday(p.Start)
		weeks[w] = weeks[w].or(p.Bits)
	}
	for i := range out {
		out[i].Users = weeks[out[i].Day].count()
	}
	return out, nil
}

// mostActiveCandidates is how many members tied with the limit-th on active
// days MostActiveUsers hands to the database as they are; more are first
// narrowed to those last active latest, with the period's last days'
// bitmaps.
const mostActiveCandidates = 64

// MostActiveUsers returns the limit users with the most active days from
// `from` to `to`, ties broken by the later last activity, then by user id,
// each with the user (a user deleted since drops out of the ten, as with
// the rollup's query).
//
// Each member's active days are the month counts of the period's whole
// months plus its odd days' bitmaps, added up here. The members that can be
// among the first limit are those with more active days than the limit-th,
// and those with as many; when the latter are many, only those whose last
// active day is at least as late as that of the one that fills the limit
// (found in the bitmaps of the period's last odd days, when they suffice:
// a member's latest activity falls on its last active day,
// activity_days.last_at being within its day). One more statement reads
// their last activity from activity_days (one index probe each), ranks
// them as the rollup's query does and joins the users.
func (q queries) MostActiveUsers(ctx context.Context, orgID int64, from, to time.Time, limit int) ([]UserActivity, error) {
	fail := func(err error) ([]UserActivity, error) {
		return nil, fmt.Errorf("storage: most active users of organization %d: %w", orgID, err)
	}
	us := []UserActivity{}
	if limit <= 0 {
		return us, nil
	}
	from, to = utcDay(from), utcDay(to)
	var l pieceList
	for d := from; !d.After(to); {
		// The month of the period's last day is read as days even when it
		// is whole: the ties are narrowed with its last days.
		if d.Day() == 1 && monthEnd(d).Before(to) {
			l.add("c", d)
			d = d.AddDate(0, 1, 0)
		} else {
			l.add("d", d)
			d = d.AddDate(0, 0, 1)
		}
	}
	ps, err := q.fetch(ctx, orgID, l)
	if err != nil {
		return fail(err)
	}
	r := rankMembers(ps, l.days, to, limit)
	if len(r.nos) == 0 && r.group == nil {
		return us, nil
	}
	var groupDay any // the group's day, NULL when there is none
	if r.group != nil {
		groupDay = r.groupDay
	}
	err = q.sel(ctx, &us, `SELECT a.user_id, a.active_days, a.last_active, u.id, u.username, u.name,
			COALESCE(u.email, '') AS email, u.instance_admin, u.service_account_team, u.default_org_id,
			u.deactivated_at, u.created_at
		FROM (SELECT user_id, active_days, last_active FROM (
				SELECT m.user_id, c.n AS active_days, l.last_at AS last_active
				FROM unnest($2::integer[], $3::integer[]) AS c(no, n)
				JOIN activity_members m ON m.org_id = $1 AND m.member_no = c.no
				CROSS JOIN LATERAL (SELECT d.last_at FROM activity_days d
					WHERE d.org_id = $1 AND d.user_id = m.user_id AND d.day BETWEEN $4 AND $5 ORDER BY d.day DESC LIMIT 1) l
				UNION ALL
				(SELECT g.user_id, $7::integer, g.last_at
				FROM (SELECT d.user_id, d.last_at FROM activity_days d WHERE d.org_id = $1 AND d.day = $8::date
					ORDER BY d.last_at DESC, d.user_id) g
				CROSS JOIN LATERAL (SELECT n.member_no FROM activity_members n WHERE n.org_id = $1 AND n.user_id = g.user_id) n
				WHERE CASE WHEN n.member_no < length($9::bytea) * 8 THEN get_bit($9::bytea, n.member_no) = 1 ELSE false END
				ORDER BY g.last_at DESC, g.user_id LIMIT $6)
			) x
			ORDER BY active_days DESC, last_active DESC, user_id LIMIT $6) a
		JOIN users u ON u.id = a.user_id
		ORDER BY a.active_days DESC, a.last_active DESC, a.user_id`,
		orgID, pq.Array(r.nos), pq.Array(r.counts), from, to, limit, r.groupN, groupDay, r.group)
	if err != nil {
		return fail(err)
	}
	return us, nil
}

// ranked is what rankMembers finds: members to rank with their active days
// (nos, counts), and when many tied members share the last active day that
// decides, that day, their active days and the bitmap of them (group):
// the database ranks those by their last activity that day, reading the
// day's rows in that order until it has enough.
type ranked struct {
	nos, counts []int32
	group       []byte
	groupDay    string
	groupN      int32
}

// rankMembers returns the members that can be among the limit most active
// in the pieces ps (month counts and day bitmaps of a period ending on day
// to, the days asked for listed in odd; see MostActiveUsers).
func rankMembers(ps []piece, odd []string, to time.Time, limit int) (r ranked) {
	n := 0
	for _, p := range ps {
		if p.Span == "c" {
			n = max(n, len(p.Bits))
		} else {
			n = max(n, len(p.Bits)*8)
		}
	}
	c := make([]int32, n)
	for _, p := range ps {
		if p.Span == "c" {
			for i, v := range p.Bits {
				c[i] += int32(v)
			}
			continue
		}
		for i, v := range p.Bits {
			for v != 0 {
				b := bits.TrailingZeros8(v)
				v &^= 1 << b
				c[i*8+b]++
			}
		}
	}
	// The limit-th member's active days (cut), from a histogram of the
	// counts rather than by sorting every member.
	var top int32
	for _, v := range c {
		top = max(top, v)
	}
	hist := make([]int, top+1)
	for _, v := range c {
		hist[v]++
	}
	var cut int32
	for k, acc := top, 0; k >= 1; k-- {
		if hist[k] > 0 {
			cut, acc = k, acc+hist[k]
			if acc >= limit {
				break
			}
		}
	}
	if cut == 0 {
		return r
	}
	type member struct{ no, n int32 }
	var ms, tied []member // ms: more days than the cut
	for i, v := range c {
		if v > cut {
			ms = append(ms, member{int32(i), v})
		} else if v == cut {
			tied = append(tied, member{int32(i), v})
		}
	}
	above := len(ms)
	if need := limit - above; len(tied) > mostActiveCandidates {
		// The latest odd days, newest first, up to the period's end: keep
		// the tied members seen on them until need are kept, with all those
		// of the day that fills it.
		days := map[string][]byte{}
		for _, d := range odd {
			days[d] = nil
		}
		for _, p := range ps {
			if p.Span == "d" {
				days[p.Start.UTC().Format(time.DateOnly)] = p.Bits
			}
		}
		want := make([]bool, len(c))
		for _, m := range tied {
			want[m.no] = true
		}
		var kept []member
		var last string // the day that filled need
		before := 0     // how many were kept before that day
		for d := utcDay(to); len(kept) < need; d = d.AddDate(0, 0, -1) {
			last = d.Format(time.DateOnly)
			b, ok := days[last]
			if !ok {
				kept = nil // the odd days ran out: keep every tied member
				break
			}
			before = len(kept)
			for i, v := range b {
				for v != 0 {
					bit := bits.TrailingZeros8(v)
					v &^= 1 << bit
					if no := int32(i*8 + bit); int(no) < len(want) && want[no] {
						kept, want[no] = append(kept, member{no, cut}), false
					}
				}
			}
		}
		if kept != nil {
			tied = kept
			if len(kept)-before > mostActiveCandidates {
				// Those of the deciding day go to the database as a group.
				var g bitset
				for _, m := range kept[before:] {
					if int(m.no/64) >= len(g) {
						g = append(g, make(bitset, int(m.no/64)+1-len(g))...)
					}
					g[m.no/64] |= 1 << (m.no % 64)
				}
				r.group = make([]byte, len(g)*8)
				for i, w := range g {
					binary.LittleEndian.PutUint64(r.group[i*8:], w)
				}
				r.groupDay, r.groupN, tied = last, cut, kept[:before]
			}
		}
	}
	for _, m := range append(ms[:above:above], tied...) {
		r.nos, r.counts = append(r.nos, m.no), append(r.counts, m.n)
	}
	return r
}
