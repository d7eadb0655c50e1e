package main

// The activity scale section: the activity panels of a big organization
// (100,000 members by default) and of a 2,000-member one, loaded the same
// way, each panel and period through GraphQL (the day bitmaps), through the
// new storage query alone (storage.Store.ActiveUsers & co., the bitmaps)
// and through today's activity_days query kept as the baseline
// (storage.Store.ActiveUsersRollup & co.), the three answers checked equal;
// and the storage the bitmaps take beside activity_days.
//
// The activity is loaded, not ingested: no events are written. Each
// member's activity on each day is drawn as the dashboard section's
// generator would make it with as many events per member as the dash
// organization has (-dash-events for -users members): the same Zipf law
// over the members (s 1.15, v 6, a tenth never active), days weighted as its
// hours are (a year ago half as busy, weekends and the year-end holidays
// quieter); a member with an expected λ events on a day is active that day
// with probability 1 − e^−λ, its last activity the latest of about λ
// uniform times of the day. The rows are COPYed into activity_days and the
// bitmaps built from them with activity_bits_rebuild (what migration 0014
// does), then VACUUM (ANALYZE).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/storage"
)

// scaleOrg is one organization of the section.
type scaleOrg struct {
	name                    string
	id                      int64
	members                 int
	memberDays, active      int
	first                   time.Time
	admin                   endpoint
	names                   map[int64]string
	load                    time.Duration
	daysBytes, bitsBytes    int64 // this organization's share of the tables, indexes included
	daysRows, bitsRows, nos int
	panels                  []scalePanel
}

// scalePanel is one panel and period of an organization.
type scalePanel struct {
	panel, period             string
	from, to                  time.Time
	answer                    string
	gql, store, roll          time.Duration
	gqlCPU, storeCPU, rollCPU time.Duration // PostgreSQL + server + harness CPU per request
}

// measureActivityScale runs the section.
func (b *bench) measureActivityScale(ctx context.Context) error {
	small, err := b.loadScaleOrg(ctx, "scale-small", b.cfg.users, b.cfg.seed+7)
	if err != nil {
		return err
	}
	big, err := b.loadScaleOrg(ctx, "scale-big", b.cfg.scaleMembers, b.cfg.seed+8)
	if err != nil {
		return err
	}
	logf("activity scale: VACUUM (ANALYZE)")
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) activity_days, activity_day_bits, activity_members, users, memberships`); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	if err := b.scaleSizes(ctx, small, big); err != nil {
		return err
	}
	logf("activity scale: starting a multi-tenant server on the same database")
	if b.mtSrv, err = startServer(ctx, b.bin, b.dbURL, b.key, "--deployment", "multi-tenant"); err != nil {
		return err
	}
	defer b.stopMultiTenant()
	store, err := storage.Open(ctx, b.dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	store.DB().SetMaxOpenConns(1)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	for _, o := range []*scaleOrg{small, big} {
		if err := b.scalePanels(ctx, store, client, o); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	b.scaleRows(small, big)
	return nil
}

// loadScaleOrg creates an organization of n members with a year of
// activity (see the top of the file) and its bitmaps.
func (b *bench) loadScaleOrg(ctx context.Context, name string, n int, seed uint64) (*scaleOrg, error) {
	t0 := time.Now()
	o := &scaleOrg{name: name, members: n, names: map[int64]string{}}
	logf("activity scale: %s: %d members", name, n)
	if err := b.db.GetContext(ctx, &o.id, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise') RETURNING id`, name); err != nil {
		return nil, err
	}
	var ids []int64
	if err := b.db.SelectContext(ctx, &ids, `WITH u AS (
			INSERT INTO users (username, name, email, created_at)
			SELECT $1 || '-' || g, 'Member ' || g, $1 || '-' || g || '@scale.example.com', now() - interval '800 days'
			FROM generate_series(1, $2) g RETURNING id
		), m AS (
			INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, added_at, accepted_at)
			SELECT $3, id, 'member', 'full', 'full', now() - interval '800 days', now() - interval '800 days' FROM u RETURNING user_id
		)
		SELECT user_id FROM m ORDER BY user_id`, name, n, o.id); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	for i, id := range ids {
		o.names[id] = fmt.Sprintf("%s-%d", name, i+1)
	}
	// GraphQL asks as the instance admin, on both servers: an organization
	// admin's own requests would mark it active while the panels are read,
	// changing the answers between the three sides.
	o.admin = endpoint{user: "admin", key: b.key}

	logf("activity scale: %s: drawing and COPYing the member-days of %d days", name, b.cfg.scaleDays)
	if err := b.copyScaleDays(ctx, o, ids, seed); err != nil {
		return nil, err
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE memberships m SET active_days = a.n, last_active_at = a.last
		FROM (SELECT user_id, count(*) AS n, max(last_at) AS last FROM activity_days WHERE org_id = $1 GROUP BY user_id) a
		WHERE m.org_id = $1 AND m.user_id = a.user_id`, o.id); err != nil {
		return nil, err
	}
	logf("activity scale: %s: building the day bitmaps (activity_bits_rebuild)", name)
	if _, err := b.db.ExecContext(ctx, `SELECT activity_bits_rebuild($1)`, o.id); err != nil {
		return nil, err
	}
	if err := b.db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT user_id), min(day) FROM activity_days WHERE org_id = $1`, o.id).
		Scan(&o.memberDays, &o.active, &o.first); err != nil {
		return nil, err
	}
	o.first = o.first.UTC()
	o.load = time.Since(t0)
	logf("activity scale: %s: %d member-days for %d of %d members, loaded in %s", name, o.memberDays, o.active, n, o.load.Round(time.Second))
	return o, nil
}

// copyScaleDays draws the member-days and COPYs them into activity_days.
func (b *bench) copyScaleDays(ctx context.Context, o *scaleOrg, ids []int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	days := b.cfg.scaleDays
	n := len(ids)
	// Events per member as in the dash organization, spread over the days.
	total := float64(b.cfg.dashEvents) * float64(n) / float64(b.cfg.users)
	active := max(n-n/10, 1)
	rank := r.Perm(n)[:active]
	p := make([]float64, active)
	sum := 0.0
	for k := range p {
		p[k] = math.Pow(6+float64(k), -1.15)
		sum += p[k]
	}
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	first := today.AddDate(0, 0, -(days - 1))
	w := make([]float64, days)
	wsum := 0.0
	for d := range w {
		day := first.AddDate(0, 0, d)
		w[d] = 0.5 + 0.5*float64(d)/float64(max(days-1, 1))
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			w[d] *= 0.47 // 70% automated events at 0.6, people's at 0.15
		}
		if day.Month() == time.December && day.Day() >= 23 || day.Month() == time.January && day.Day() <= 2 {
			w[d] *= 0.5
		}
		if d == days-1 {
			w[d] *= float64(now.Sub(today)) / float64(24*time.Hour) // today so far
		}
		wsum += w[d]
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `COPY activity_days (org_id, user_id, day, last_at) FROM STDIN`)
	if err != nil {
		return err
	}
	for d := range days {
		day := first.AddDate(0, 0, d)
		span := 24 * time.Hour
		if d == days-1 {
			span = now.Sub(today)
		}
		for k, m := range rank {
			lambda := total * p[k] / sum * w[d] / wsum
			if r.Float64() >= 1-math.Exp(-lambda) {
				continue
			}
			at := day.Add(time.Duration(math.Pow(r.Float64(), 1/max(lambda, 1)) * float64(span)).Truncate(time.Second))
			if _, err := stmt.ExecContext(ctx, o.id, ids[m], day, at); err != nil {
				return err
			}
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// scaleSizes measures each organization's share of activity_days and of
// the bitmaps' tables, indexes and TOAST included, in proportion to its
// rows (activity_days, activity_members) or its bitmaps' bytes.
func (b *bench) scaleSizes(ctx context.Context, orgs ...*scaleOrg) error {
	var days, bits, members int64
	var allDays, allBits, allNos int
	var allBitBytes int64
	if err := b.db.QueryRowContext(ctx, `SELECT pg_total_relation_size('activity_days'), pg_total_relation_size('activity_day_bits'),
			pg_total_relation_size('activity_members'), (SELECT count(*) FROM activity_days), (SELECT count(*) FROM activity_day_bits),
			(SELECT count(*) FROM activity_members), (SELECT COALESCE(sum(pg_column_size(b.*)), 0) FROM activity_day_bits b)`).
		Scan(&days, &bits, &members, &allDays, &allBits, &allNos, &allBitBytes); err != nil {
		return err
	}
	for _, o := range orgs {
		var bitBytes int64
		if err := b.db.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(pg_column_size(b.*)), 0) FROM activity_day_bits b WHERE org_id = $1`, o.id).
			Scan(&o.bitsRows, &bitBytes); err != nil {
			return err
		}
		if err := b.db.GetContext(ctx, &o.nos, `SELECT count(*) FROM activity_members WHERE org_id = $1`, o.id); err != nil {
			return err
		}
		o.daysRows = o.memberDays
		o.daysBytes = int64(float64(days) * float64(o.daysRows) / float64(max(allDays, 1)))
		o.bitsBytes = int64(float64(bits)*float64(bitBytes)/float64(max(allBitBytes, 1))) +
			int64(float64(members)*float64(o.nos)/float64(max(allNos, 1)))
		logf("activity scale: %s: activity_days %d rows, %s; bitmaps %d days + %d member numbers, %s", o.name, o.daysRows, mib(o.daysBytes), o.bitsRows, o.nos, mib(o.bitsBytes))
	}
	return nil
}

// scalePanels measures every panel and period of o.
func (b *bench) scalePanels(ctx context.Context, store *storage.Store, client *http.Client, o *scaleOrg) error {
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sm := o.admin
	sm.url = b.srv.url
	mt := o.admin
	mt.url = b.mtSrv.url
	type panelDef struct {
		name    string
		periods []string
		ep      endpoint
	}
	defs := []panelDef{
		{"totalActiveUsers", dashPeriods, sm}, {"usersActiveOverTime", dashPeriods, sm},
		{"activeUserCount", mtPeriods, mt}, {"weeklyActiveUsers", mtPeriods, mt}, {"mostActiveUsers", mtPeriods, mt},
	}
	for _, def := range defs {
		if b.cfg.scalePanels != "" && !slices.Contains(strings.Split(b.cfg.scalePanels, ","), def.name) {
			continue
		}
		for _, period := range def.periods {
			r := scalePanel{panel: def.name, period: period}
			r.from, r.to = periodDays(period, today, o.first)
			var fields string
			switch def.name {
			case "totalActiveUsers", "activeUserCount":
				fields = "period from to count"
			case "mostActiveUsers":
				fields = "period from to users { rank user { username } activeDays lastActiveAt }"
			default:
				fields = "period from to points { date activeUsers }"
			}
			q := fmt.Sprintf(`{ organization(name: %q) { activity { %s(period: %s) { %s } } } }`, o.name, def.name, period, fields)
			var gqlAnswer, storeAnswer, rollAnswer string
			gql := func() error {
				var out struct {
					Organization struct {
						Activity map[string]struct {
							gqlSeries
							Count int
							Users []struct {
								Rank         int
								User         struct{ Username string }
								ActiveDays   int
								LastActiveAt time.Time
							}
						}
					}
				}
				if _, err := graphqlAt(ctx, client, def.ep, q, &out); err != nil {
					return err
				}
				a := out.Organization.Activity[def.name]
				if err := checkPeriod(a.Period, a.From, a.To, panelResult{panel: r.panel, period: r.period, from: r.from, to: r.to}); err != nil {
					return err
				}
				switch def.name {
				case "totalActiveUsers", "activeUserCount":
					gqlAnswer = fmt.Sprint(a.Count)
				case "mostActiveUsers":
					gqlAnswer = ""
					for _, u := range a.Users {
						gqlAnswer += fmt.Sprintf("%d:%s:%d:%s ", u.Rank, u.User.Username, u.ActiveDays, u.LastActiveAt.UTC().Format(time.RFC3339Nano))
					}
				default:
					ds := make([]storage.DayCount, len(a.Points))
					for i, p := range a.Points {
						ds[i] = storage.DayCount{Day: p.Date, Users: p.ActiveUsers}
					}
					gqlAnswer = seriesAnswer(ds)
				}
				return nil
			}
			// The storage side computes ALL_TIME's first day as the server does.
			call := func(rollup bool, out *string) func() error {
				return func() error {
					from := r.from
					if period == "ALL_TIME" {
						first, err := store.FirstActivityDay(ctx, o.id)
						if err != nil {
							return err
						}
						from, _ = periodDays(period, today, first.UTC())
					}
					var err error
					switch def.name {
					case "totalActiveUsers", "activeUserCount":
						var n int
						if rollup {
							n, err = store.ActiveUsersRollup(ctx, o.id, from, r.to)
						} else {
							n, err = store.ActiveUsers(ctx, o.id, from, r.to)
						}
						*out = fmt.Sprint(n)
					case "usersActiveOverTime", "weeklyActiveUsers":
						var ds []storage.DayCount
						switch {
						case def.name == "weeklyActiveUsers" && rollup:
							ds, err = store.WeeklyActiveUsersRollup(ctx, o.id, from, r.to)
						case def.name == "weeklyActiveUsers":
							ds, err = store.WeeklyActiveUsers(ctx, o.id, from, r.to)
						case rollup:
							ds, err = store.DailyActiveUsersRollup(ctx, o.id, from, r.to)
						default:
							ds, err = store.DailyActiveUsers(ctx, o.id, from, r.to)
						}
						*out = seriesAnswer(ds)
					default:
						var us []storage.UserActivity
						if rollup {
							us, err = store.MostActiveUsersRollup(ctx, o.id, from, r.to, 10)
						} else {
							us, err = store.MostActiveUsers(ctx, o.id, from, r.to, 10)
						}
						*out = ""
						for i, u := range us {
							*out += fmt.Sprintf("%d:%s:%d:%s ", i+1, o.names[u.UserID], u.ActiveDays, u.LastActive.UTC().Format(time.RFC3339Nano))
						}
					}
					return err
				}
			}
			newSide, rollSide := call(false, &storeAnswer), call(true, &rollAnswer)
			var gqls, stores, rolls []time.Duration
			var gqlCPU, storeCPU, rollCPU time.Duration
			side := func(fn func() error, ds *[]time.Duration, cpu *time.Duration, timedRun bool) error {
				c0 := b.cpuNow()
				d, err := timed(fn)
				if err != nil {
					return err
				}
				if timedRun {
					c := b.cpuNow().sub(c0)
					*ds, *cpu = append(*ds, d), *cpu+c.pg+c.server+c.self
				}
				return nil
			}
			for i := -b.cfg.dashWarmups; i < b.cfg.scaleRuns; i++ {
				if err := side(gql, &gqls, &gqlCPU, i >= 0); err != nil {
					return fmt.Errorf("%s(%s) via GraphQL: %w", r.panel, r.period, err)
				}
				if err := side(newSide, &stores, &storeCPU, i >= 0); err != nil {
					return fmt.Errorf("%s(%s) storage: %w", r.panel, r.period, err)
				}
				// The baseline, slow, runs in the first rounds only, after
				// one untimed run.
				if i >= -1 && i < b.cfg.scaleBaseRuns {
					if err := side(rollSide, &rolls, &rollCPU, i >= 0); err != nil {
						return fmt.Errorf("%s(%s) rollup SQL: %w", r.panel, r.period, err)
					}
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if gqlAnswer != storeAnswer || gqlAnswer != rollAnswer {
				return fmt.Errorf("MISMATCH %s(%s) %s..%s of %s:\nGraphQL %s\nstorage %s\nrollup  %s", r.panel, r.period,
					r.from.Format(time.DateOnly), r.to.Format(time.DateOnly), o.name, gqlAnswer, storeAnswer, rollAnswer)
			}
			r.answer = gqlAnswer
			if len(r.answer) > 60 {
				r.answer = r.answer[:57] + "..."
			}
			r.gql, r.store, r.roll = median(gqls), median(stores), median(rolls)
			r.gqlCPU, r.storeCPU, r.rollCPU = gqlCPU/time.Duration(len(gqls)), storeCPU/time.Duration(len(stores)), rollCPU/time.Duration(len(rolls))
			o.panels = append(o.panels, r)
			logf("activity scale: %s %s(%s): GraphQL %s ms, storage %s ms, rollup SQL %s ms (%.1f× faster; GraphQL %.2f of storage; CPU/request %s/%s/%s ms)",
				o.name, r.panel, r.period, ms(r.gql), ms(r.store), ms(r.roll), r.roll.Seconds()/r.store.Seconds(), r.gql.Seconds()/r.store.Seconds(),
				ms(r.gqlCPU), ms(r.storeCPU), ms(r.rollCPU))
		}
	}
	return nil
}

// seriesAnswer renders a series for the equality check.
func seriesAnswer(ds []storage.DayCount) string {
	sum, peak := 0, 0
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf("%s=%d,", d.Day.UTC().Format(time.DateOnly), d.Users)
		sum += d.Users
		peak = max(peak, d.Users)
	}
	return fmt.Sprintf("%d points, Σ %d, max %d [%s]", len(ds), sum, peak, s)
}

// scaleRows adds the section's rows to the results.
func (b *bench) scaleRows(small, big *scaleOrg) {
	for i, r := range big.panels {
		name := fmt.Sprintf("activity scale: %s(%s), %s members, median ms", r.panel, r.period, thousands(big.members))
		speedup, ratio := r.roll.Seconds()/r.store.Seconds(), r.gql.Seconds()/r.store.Seconds()
		b.rows = append(b.rows,
			row{metric: name + ": storage query (day bitmaps) vs rollup SQL (activity_days)", ours: ms(r.store), base: ms(r.roll),
				ratio: fmt.Sprintf("%.1f× faster", speedup), target: "≥ 10× faster", pass: speedup >= 10},
			row{metric: name + ": GraphQL vs its storage query", ours: ms(r.gql), base: ms(r.store),
				ratio: fmt.Sprintf("%.2f", ratio), target: "≤ 1.50", pass: ratio <= 1.5},
			// On a busy machine wall times mostly wait for a CPU; the CPU
			// each request cost (PostgreSQL, server and harness) does not.
			row{metric: name + ": CPU ms per request, storage query vs rollup SQL (GraphQL: " + ms(r.gqlCPU) + ")",
				ours: ms(r.storeCPU), base: ms(r.rollCPU), ratio: fmt.Sprintf("%.1f× less", r.rollCPU.Seconds()/r.storeCPU.Seconds()), info: true})
		if i < len(small.panels) && small.panels[i].panel == r.panel && small.panels[i].period == r.period {
			s := small.panels[i]
			grow := r.gql.Seconds() / s.gql.Seconds()
			b.rows = append(b.rows, row{metric: name + fmt.Sprintf(": GraphQL vs the same on %s members", thousands(small.members)),
				ours: ms(r.gql), base: ms(s.gql), ratio: fmt.Sprintf("%.2f", grow), target: "≤ 5", pass: grow <= 5})
		}
	}
	for _, o := range []*scaleOrg{small, big} {
		b.rows = append(b.rows, row{metric: fmt.Sprintf("activity scale: storage of %s members' activity (%d member-days over %d days)", thousands(o.members), o.memberDays, b.cfg.scaleDays),
			ours: "bitmaps " + mib(o.bitsBytes), base: "activity_days " + mib(o.daysBytes),
			ratio: fmt.Sprintf("%.3f", float64(o.bitsBytes)/float64(o.daysBytes)), info: true})
	}
	b.notes = append(b.notes, fmt.Sprintf("Activity scale: organizations %s (%d members, %d member-days, loaded in %s) and %s (%d members, %d member-days, loaded in %s), their activity drawn per member and day, not ingested (see bench/activityscale.go); each panel and period %d untimed rounds, then %d rounds of GraphQL then the storage query, the activity_days query in the first %d rounds after one untimed run; CPU per request (PostgreSQL, server and harness) in the log.",
		small.name, small.members, small.memberDays, small.load.Round(time.Second), big.name, big.members, big.memberDays, big.load.Round(time.Second),
		b.cfg.dashWarmups, b.cfg.scaleRuns, b.cfg.scaleBaseRuns))
}
