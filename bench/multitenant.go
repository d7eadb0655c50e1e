package main

// The multi-tenant panels: a second server process, in --deployment
// multi-tenant mode, on the same database, over an organization of its own
// whose events and rollups are what multi-tenant ingest would have stored.
//
// Multi-tenant ingest differs from self-managed in two ways that matter
// here: it does not store what multi-tenant does not collect
// (ingest.Collected: report:read, open or public projects, user actions not
// tied to the organization), and only events on or after --activity-cutoff
// count as activity. API requests never count in multi-tenant mode. There
// is no instance organization, and the dashboard is the organization's
// own admin's: the requests authenticate as an admin member of the
// organization with an API key of their own, not as the instance admin.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/ingest"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

const mtOrg = "dash-cloud"

// mtPeriods are the multi-tenant periods, shortest first.
var mtPeriods = []string{"LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS", "LAST_6_MONTHS", "LAST_12_MONTHS"}

// mtCutoffDays is how far into the history the multi-tenant server's
// activity cut-off lies: inside it, so that the longest period shows the
// rule, and near its start, so that it still reads nearly a year.
const mtCutoffDays = 14

// multiTenant is the state of the multi-tenant organization and server.
type multiTenant struct {
	orgID         int64
	events        int // stored, of dash's
	cutoff        time.Time
	memberDays    int
	activeMembers int
	admin         endpoint
	names         map[int64]string // user id → username
	client        *http.Client
	floor         time.Duration // median of `{ viewer { username } }`
	fieldFloor    time.Duration // median of the activity field without a panel
	setup         string
	panels        []panelResult
	copyDur       time.Duration
}

// multiTenantCollects applies multi-tenant ingest's rule to a day file's
// CSV line (ts,code,"action",...). The generator makes no events on public
// projects nor outside the organization, so only the action decides.
func multiTenantCollects(line []byte) bool {
	i := bytes.IndexByte(line, ',')
	j := bytes.IndexByte(line[i+1:], ',')
	rest := line[i+1+j+1:]
	end := bytes.IndexByte(rest[1:], '"')
	var l ingest.Line
	l.Action = audit.Action(rest[1 : 1+end])
	l.OrgScoped = true
	return ingest.Collected(deployment.MultiTenant, l)
}

// loadMultiTenant creates the multi-tenant organization with the same
// members as dash, COPYs the day files' events that multi-tenant collects
// into it, builds its rollups from them with the cut-off, and gives one of
// its admins an API key.
func (b *bench) loadMultiTenant(ctx context.Context, dir string) error {
	d := b.dash
	mt := &multiTenant{cutoff: d.gen.first.AddDate(0, 0, mtCutoffDays), names: map[int64]string{}}
	d.mt = mt
	if err := b.db.GetContext(ctx, &mt.orgID, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise') RETURNING id`, mtOrg); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, added_at, accepted_at)
		SELECT $1, user_id, role, models_seat, weave_access, added_at, accepted_at FROM memberships WHERE org_id = $2`, mt.orgID, d.orgID); err != nil {
		return fmt.Errorf("memberships: %w", err)
	}
	logf("dashboard: COPY of the events multi-tenant collects into %q", mtOrg)
	tCopy := time.Now()
	_, n, err := b.copyDays(ctx, dir, mt.orgID, multiTenantCollects)
	if err != nil {
		return err
	}
	mt.copyDur = time.Since(tCopy)
	mt.events = n
	if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, mt.orgID, n); err != nil {
		return err
	}
	var dropped int
	if err := b.db.GetContext(ctx, &dropped, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'report:read'`, d.orgID); err != nil {
		return err
	}
	if n+dropped != d.events {
		return fmt.Errorf("multi-tenant kept %d of %d events and dash has %d report:read, want them to add up", n, d.events, dropped)
	}
	logf("dashboard: building %q's rollups from its events since the cut-off %s", mtOrg, mt.cutoff.Format(time.DateOnly))
	tRoll := time.Now()
	if err := b.buildRollups(ctx, mt.orgID, &mt.cutoff); err != nil {
		return err
	}
	rollDur := time.Since(tRoll)

	// The first admin among the members who can still log in.
	var admin *member
	for i := range d.gen.members {
		m := &d.gen.members[i]
		mt.names[m.id] = m.username
		if admin == nil && m.role == "admin" && i%100 != 37 {
			admin = m
		}
	}
	if admin == nil {
		return fmt.Errorf("no active admin among the members")
	}
	raw := make([]byte, 20)
	rand.Read(raw)
	key := hex.EncodeToString(raw)
	if _, err := b.db.ExecContext(ctx, `INSERT INTO api_keys (user_id, name, prefix, hash) VALUES ($1, 'bench', $2, $3)`,
		admin.id, auth.Prefix(key), auth.Hash(key)); err != nil {
		return fmt.Errorf("admin's API key: %w", err)
	}
	mt.admin = endpoint{user: admin.username, key: key}
	mt.setup = fmt.Sprintf("setup (not measured) COPY %s, rollups %s", mt.copyDur.Round(100*time.Millisecond), rollDur.Round(100*time.Millisecond))
	return nil
}

// The multi-tenant panels' raw SQL on audit_events, in the form of the
// self-managed ones (distinct actor emails first, then members): the
// range starts at the later of the period's first day and the cut-off.
// Weeks are the ISO weeks (Monday) of the UTC days; a member's active days
// are the distinct UTC days with an event, the last activity the latest.
const (
	rawWeekActors = `SELECT DISTINCT date_trunc('week', e.ts AT TIME ZONE 'UTC') AS week, e.actor_email AS email FROM audit_events e
		WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 AND e.actor_email IS NOT NULL`
	rawWeekly = `WITH a AS (SELECT x.week, count(DISTINCT m.user_id) AS users FROM (` + rawWeekActors + `) x ` + rawMembers + ` GROUP BY x.week)
		SELECT w::date AS day, COALESCE(a.users, 0) AS users
		FROM generate_series(date_trunc('week', $4::timestamp), date_trunc('week', $5::timestamp), interval '1 week') AS w
		LEFT JOIN a ON a.week = w ORDER BY w`
	rawDayLast = `SELECT (e.ts AT TIME ZONE 'UTC')::date AS day, e.actor_email AS email, max(e.ts) AS last_at FROM audit_events e
		WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 AND e.actor_email IS NOT NULL GROUP BY 1, 2`
	rawMostActive = `SELECT m.user_id, count(DISTINCT x.day) AS active_days, max(x.last_at) AS last_active FROM (` + rawDayLast + `) x ` + rawMembers + `
		GROUP BY m.user_id ORDER BY active_days DESC, last_active DESC, m.user_id LIMIT 10`
)

// mondays returns the Mondays of the weeks that overlap from..to.
func mondays(from, to time.Time) []time.Time {
	var ws []time.Time
	for w := from.AddDate(0, 0, -((int(from.Weekday()) + 6) % 7)); !w.After(to); w = w.AddDate(0, 0, 7) {
		ws = append(ws, w)
	}
	return ws
}

type gqlRanked struct {
	Period   string
	From, To time.Time
	Users    []struct {
		Rank         int
		User         struct{ Username string }
		ActiveDays   int
		LastActiveAt time.Time
	}
}

// measureMultiTenant starts the multi-tenant server and measures its three
// panels for each of its periods, as measurePanels does the self-managed ones.
func (b *bench) measureMultiTenant(ctx context.Context) error {
	d := b.dash
	mt := d.mt
	var err error
	logf("dashboard: starting a multi-tenant server on the same database (activity cut-off %s)", mt.cutoff.Format(time.DateOnly))
	if b.mtSrv, err = startServer(ctx, b.bin, b.dbURL, b.key, "--deployment", "multi-tenant", "--activity-cutoff", mt.cutoff.Format(time.DateOnly)); err != nil {
		return err
	}
	mt.admin.url = b.mtSrv.url
	mt.client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	defer mt.client.CloseIdleConnections()
	if err := b.db.GetContext(ctx, &mt.memberDays, `SELECT count(*) FROM activity_days WHERE org_id = $1`, mt.orgID); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &mt.activeMembers, `SELECT count(*) FROM memberships WHERE org_id = $1 AND last_active_at IS NOT NULL`, mt.orgID); err != nil {
		return err
	}

	// The admin sees the organization, and the self-managed panels are
	// refused: this is the multi-tenant server.
	// The floor: a trivial query, and the activity field without a panel
	// (the organization's lookup and the admin checks every panel pays).
	var viewer, field []time.Duration
	for i := -b.cfg.dashWarmups; i < b.cfg.dashRuns; i++ {
		var probe struct {
			Viewer       struct{ Username string }
			Organization *struct {
				Activity struct {
					Typename string `json:"__typename"`
				}
			}
		}
		dv, err := graphqlAt(ctx, mt.client, mt.admin, `{ viewer { username } }`, &probe)
		if err != nil {
			return err
		}
		df, err := graphqlAt(ctx, mt.client, mt.admin, fmt.Sprintf(`{ organization(name: %q) { activity { __typename } } }`, mtOrg), &probe)
		if err != nil {
			return err
		}
		if probe.Organization == nil || probe.Organization.Activity.Typename != "ActivityStats" {
			return fmt.Errorf("the multi-tenant server does not show %s's activity to its admin %s", mtOrg, mt.admin.user)
		}
		if i >= 0 {
			viewer, field = append(viewer, dv), append(field, df)
		}
	}
	mt.floor, mt.fieldFloor = median(viewer), median(field)
	var refused any
	if _, err := graphqlAt(ctx, mt.client, mt.admin, fmt.Sprintf(`{ organization(name: %q) { activity { totalActiveUsers { count } } } }`, mtOrg), &refused); err == nil || !strings.Contains(err.Error(), "not shown in multi-tenant mode") {
		return fmt.Errorf("the multi-tenant server answered a self-managed panel: %v", err)
	}

	roll, rawDB, err := b.panelConns(ctx)
	if err != nil {
		return err
	}
	defer roll.Close()
	defer rawDB.Close()
	n := time.Now().UTC()
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	for _, panel := range []string{"activeUserCount", "weeklyActiveUsers", "mostActiveUsers"} {
		for _, period := range mtPeriods {
			r := panelResult{panel: panel, period: period}
			r.from, r.to = periodDays(period, today, time.Time{})
			rawFrom, end := r.from, r.to.AddDate(0, 0, 1)
			if rawFrom.Before(mt.cutoff) {
				rawFrom = mt.cutoff
			}
			field := map[string]string{
				"activeUserCount":   "count",
				"weeklyActiveUsers": "points { date activeUsers }",
				"mostActiveUsers":   "users { rank user { username } activeDays lastActiveAt }",
			}[panel]
			q := fmt.Sprintf(`{ organization(name: %q) { activity { %s(period: %s) { period from to %s } } } }`, mtOrg, panel, period, field)
			var (
				gqlCount, rollCount, rawCount int
				gqlPoints                     gqlSeries
				rollSeries, rawSeries         []dayCount
				gqlTop                        gqlRanked
				rollTop, rawTop               []storage.UserActivity
				gql, rollup, raw              func() error
			)
			switch panel {
			case "activeUserCount":
				gql = func() error {
					var out struct {
						Organization struct {
							Activity struct{ ActiveUserCount gqlCountResult }
						}
					}
					if _, err := graphqlAt(ctx, mt.client, mt.admin, q, &out); err != nil {
						return err
					}
					c := out.Organization.Activity.ActiveUserCount
					gqlCount = c.Count
					return checkPeriod(c.Period, c.From, c.To, r)
				}
				rollup = func() (err error) { rollCount, err = roll.ActiveUsersRollup(ctx, mt.orgID, r.from, r.to); return err }
				raw = func() error { return rawDB.GetContext(ctx, &rawCount, rawTotal, mt.orgID, rawFrom, end) }
			case "weeklyActiveUsers":
				gql = func() error {
					var out struct {
						Organization struct {
							Activity struct{ WeeklyActiveUsers gqlSeries }
						}
					}
					if _, err := graphqlAt(ctx, mt.client, mt.admin, q, &out); err != nil {
						return err
					}
					gqlPoints = out.Organization.Activity.WeeklyActiveUsers
					return checkPeriod(gqlPoints.Period, gqlPoints.From, gqlPoints.To, r)
				}
				rollup = func() (err error) {
					rollSeries, err = roll.WeeklyActiveUsersRollup(ctx, mt.orgID, r.from, r.to)
					return err
				}
				raw = func() error {
					rawSeries = rawSeries[:0]
					return rawDB.SelectContext(ctx, &rawSeries, rawWeekly, mt.orgID, rawFrom, end, r.from, r.to)
				}
			default:
				gql = func() error {
					var out struct {
						Organization struct {
							Activity struct{ MostActiveUsers gqlRanked }
						}
					}
					if _, err := graphqlAt(ctx, mt.client, mt.admin, q, &out); err != nil {
						return err
					}
					gqlTop = out.Organization.Activity.MostActiveUsers
					return checkPeriod(gqlTop.Period, gqlTop.From, gqlTop.To, r)
				}
				rollup = func() (err error) {
					rollTop, err = roll.MostActiveUsersRollup(ctx, mt.orgID, r.from, r.to, 10)
					return err
				}
				raw = func() error {
					rawTop = rawTop[:0]
					return rawDB.SelectContext(ctx, &rawTop, rawMostActive, mt.orgID, rawFrom, end)
				}
			}
			if err := b.timePanel(ctx, &r, gql, rollup, raw); err != nil {
				return err
			}

			// The three answers must agree.
			head := fmt.Sprintf("MISMATCH %s(%s) %s..%s", panel, period, r.from.Format(time.DateOnly), r.to.Format(time.DateOnly))
			switch panel {
			case "activeUserCount":
				if gqlCount != rollCount || gqlCount != rawCount {
					return fmt.Errorf("%s: GraphQL %d, rollup SQL %d, raw SQL on audit_events %d", head, gqlCount, rollCount, rawCount)
				}
				r.answer = fmt.Sprintf("%d users", gqlCount)
			case "weeklyActiveUsers":
				if err := compareSeries(r, mondays(r.from, r.to), gqlPoints, rollSeries, rawSeries); err != nil {
					return err
				}
				r.answer = summarize(rawSeries)
			default:
				if err := mt.compareTop(head, gqlTop, rollTop, rawTop); err != nil {
					return err
				}
				r.answer = fmt.Sprintf("top %d, %d–%d active days", len(rawTop), rawTop[len(rawTop)-1].ActiveDays, rawTop[0].ActiveDays)
			}
			mt.panels = append(mt.panels, r)
			b.panelRows(r)
		}
	}
	return nil
}

// compareTop fails, naming the first rank that differs, unless the three
// rankings hold the same users in the same order with the same active days
// and last activity.
func (mt *multiTenant) compareTop(head string, g gqlRanked, roll, raw []storage.UserActivity) error {
	if len(raw) == 0 || len(g.Users) != len(raw) || len(roll) != len(raw) {
		return fmt.Errorf("%s: GraphQL %d users, rollup SQL %d, raw SQL on audit_events %d", head, len(g.Users), len(roll), len(raw))
	}
	for i, w := range raw {
		gu, ru := g.Users[i], roll[i]
		if gu.Rank != i+1 || gu.User.Username != mt.names[w.UserID] || ru.UserID != w.UserID ||
			gu.ActiveDays != w.ActiveDays || ru.ActiveDays != w.ActiveDays ||
			!gu.LastActiveAt.Equal(w.LastActive) || !ru.LastActive.Equal(w.LastActive) {
			return fmt.Errorf("%s: rank %d: GraphQL #%d %s %d days last %s; rollup SQL user %d %d days last %s; raw SQL user %d (%s) %d days last %s",
				head, i+1, gu.Rank, gu.User.Username, gu.ActiveDays, gu.LastActiveAt.UTC().Format(time.RFC3339),
				ru.UserID, ru.ActiveDays, ru.LastActive.UTC().Format(time.RFC3339),
				w.UserID, mt.names[w.UserID], w.ActiveDays, w.LastActive.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// stopMultiTenant stops the multi-tenant server, if it runs.
func (b *bench) stopMultiTenant() {
	b.mtSrv.stop()
	b.mtSrv = nil
}
