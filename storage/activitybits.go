package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/lib/pq"
)

// The activity panels read activity_day_bits: per organization and UTC day,
// the bitmap of the members active that day (bit activity_members.member_no)
// and their count (migration 0014; ApplyActivity keeps them current). A
// panel reads one row per day of its period, whatever the number of
// members: the daily series only the counts, the totals and the weekly
// series the bitmaps, which are OR-ed here, and the most active members
// the bitmaps too, added up here bit-sliced (a counter per member made of
// one bitmap per binary digit). Their answers equal the *Rollup methods'
// on activity_days.

// dayBits is a day's bitmap as stored.
type dayBits struct {
	Day  time.Time `db:"day"`
	Bits []byte    `db:"bits"`
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

// dayBitmaps returns the organization's day bitmaps from `from` to `to`,
// both included, oldest first.
func (q queries) dayBitmaps(ctx context.Context, orgID int64, from, to time.Time) ([]dayBits, error) {
	var ds []dayBits
	err := q.sel(ctx, &ds, `SELECT day, bits FROM activity_day_bits WHERE org_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day`,
		orgID, from, to)
	return ds, err
}

// ActiveUsers counts the distinct users of an organization active on a day
// from `from` to `to`, both included: the size of the union of the days'
// bitmaps.
func (q queries) ActiveUsers(ctx context.Context, orgID int64, from, to time.Time) (int, error) {
	ds, err := q.dayBitmaps(ctx, orgID, from, to)
	if err != nil {
		return 0, fmt.Errorf("storage: active users of organization %d: %w", orgID, err)
	}
	var u bitset
	for _, d := range ds {
		u = u.or(d.Bits)
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
// Monday. Each week's count is the size of the union of its days' bitmaps.
func (q queries) WeeklyActiveUsers(ctx context.Context, orgID int64, from, to time.Time) ([]DayCount, error) {
	ds, err := q.dayBitmaps(ctx, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: weekly active users of organization %d: %w", orgID, err)
	}
	var out []DayCount
	i := 0
	var u bitset
	for w := monday(from); !w.After(utcDay(to)); w = w.AddDate(0, 0, 7) {
		next := w.AddDate(0, 0, 7)
		clear(u)
		for ; i < len(ds) && utcDay(ds[i].Day).Before(next); i++ {
			u = u.or(ds[i].Bits)
		}
		out = append(out, DayCount{Day: w, Users: u.count()})
	}
	return out, nil
}

// MostActiveUsers returns the limit users with the most active days from
// `from` to `to`, ties broken by the later last activity, then by user id,
// each with the user (a user deleted since drops out of the ten, as with
// the rollup's query).
//
// The period's bitmaps are added up here into bit-sliced counters; the
// members that can be among the first limit are those with more active days
// than the limit-th, and those with as many whose last active day in the
// period is at least as late as the limit-th's (a member's latest activity
// falls on its last active day: activity_days.last_at is within its day).
// One more statement reads their last activity on that day, ranks them as
// the rollup's query does and joins the users.
func (q queries) MostActiveUsers(ctx context.Context, orgID int64, from, to time.Time, limit int) ([]UserActivity, error) {
	fail := func(err error) ([]UserActivity, error) {
		return nil, fmt.Errorf("storage: most active users of organization %d: %w", orgID, err)
	}
	ds, err := q.dayBitmaps(ctx, orgID, from, to)
	if err != nil {
		return fail(err)
	}
	us := []UserActivity{}
	if limit <= 0 || len(ds) == 0 {
		return us, nil
	}
	nos, counts, days := rankMembers(ds, limit)
	if len(nos) == 0 {
		return us, nil
	}
	err = q.sel(ctx, &us, `SELECT a.user_id, a.active_days, a.last_active, u.id, u.username, u.name,
			COALESCE(u.email, '') AS email, u.instance_admin, u.service_account_team, u.default_org_id,
			u.deactivated_at, u.created_at
		FROM (SELECT m.user_id, c.n AS active_days, d.last_at AS last_active
			FROM unnest($2::integer[], $3::integer[], $4::date[]) AS c(no, n, day)
			JOIN activity_members m ON m.org_id = $1 AND m.member_no = c.no
			JOIN activity_days d ON d.org_id = $1 AND d.day = c.day AND d.user_id = m.user_id
			ORDER BY active_days DESC, last_active DESC, m.user_id LIMIT $5) a
		JOIN users u ON u.id = a.user_id
		ORDER BY a.active_days DESC, a.last_active DESC, a.user_id`, orgID, pq.Array(nos), pq.Array(counts), pq.Array(days), limit)
	if err != nil {
		return fail(err)
	}
	return us, nil
}

// rankMembers returns the member numbers that can be among the limit most
// active over the days ds (see MostActiveUsers), with their active days and
// last active day.
func rankMembers(ds []dayBits, limit int) (nos, counts []int32, days []string) {
	// planes[k] holds binary digit k of every member's count.
	var planes []bitset
	words := 0
	for _, d := range ds {
		words = max(words, (len(d.Bits)+7)/8)
	}
	var x bitset = make(bitset, words)
	for _, d := range ds {
		clear(x)
		x = x.or(d.Bits)
		carry := x
		for k := 0; ; k++ {
			if k == len(planes) {
				planes = append(planes, make(bitset, words))
			}
			p, more := planes[k], uint64(0)
			for i, c := range carry {
				t := p[i] & c
				p[i] ^= c
				carry[i] = t
				more |= t
			}
			if more == 0 {
				break
			}
		}
	}
	type member struct {
		no, n int32
		last  int // index in ds of the last active day, filled for candidates
	}
	var ms []member
	for i := range words {
		var active uint64
		for _, p := range planes {
			active |= p[i]
		}
		for active != 0 {
			b := bits.TrailingZeros64(active)
			active &^= 1 << b
			var n int32
			for k, p := range planes {
				n |= int32(p[i]>>b&1) << k
			}
			ms = append(ms, member{no: int32(i*64 + b), n: n})
		}
	}
	if len(ms) == 0 {
		return nil, nil, nil
	}
	slices.SortFunc(ms, func(a, b member) int { return int(b.n - a.n) })
	cut := ms[min(limit, len(ms))-1].n
	end := len(ms)
	for i, m := range ms {
		if m.n < cut {
			end = i
			break
		}
	}
	ms = ms[:end]
	// The last active day of each candidate: the latest day whose bitmap
	// has it, looking back from the period's end.
	want := make(bitset, words)
	left := len(ms)
	for _, m := range ms {
		want[m.no/64] |= 1 << (m.no % 64)
	}
	lastOf := map[int32]int{}
	for j := len(ds) - 1; j >= 0 && left > 0; j-- {
		clear(x)
		x = x.or(ds[j].Bits)
		for i, w := range x {
			hit := w & want[i]
			want[i] &^= hit
			for hit != 0 {
				b := bits.TrailingZeros64(hit)
				hit &^= 1 << b
				lastOf[int32(i*64+b)] = j
				left--
			}
		}
	}
	for i := range ms {
		ms[i].last = lastOf[ms[i].no]
	}
	slices.SortFunc(ms, func(a, b member) int {
		if a.n != b.n {
			return int(b.n - a.n)
		}
		return b.last - a.last
	})
	k := min(limit, len(ms)) - 1
	end = len(ms)
	for i := k + 1; i < len(ms); i++ {
		if ms[i].n != ms[k].n || ms[i].last != ms[k].last {
			end = i
			break
		}
	}
	for _, m := range ms[:end] {
		nos, counts, days = append(nos, m.no), append(counts, m.n), append(days, ds[m.last].Day.Format(time.DateOnly))
	}
	return nos, counts, days
}
