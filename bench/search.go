package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/storage"
)

// The search section (issue 15): audit-event search on a big organization,
// every filter auditEvents offers, rows read per row returned by EXPLAIN and
// the storage query's latency, first page and page 100; then the README's
// dashboard query under -search-clients clients on an organization with
// -search-day-events events in the current day against one with 10,000.

const (
	searchOrg   = "search"
	searchPage  = 50
	searchDeep  = 100 // the deep page
	busyOrg     = "busy-day"
	calmOrg     = "calm-day"
	calmEvents  = 10_000
	busyMembers = 200
)

// searchCase is one filter.
type searchCase struct {
	name string
	f    storage.EventFilter
}

// planNode is the part of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) read here.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	Relation         string     `json:"Relation Name"`
	ActualRows       float64    `json:"Actual Rows"`
	ActualLoops      float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	SharedHit        float64    `json:"Shared Hit Blocks"`
	SharedRead       float64    `json:"Shared Read Blocks"`
	Plans            []planNode `json:"Plans"`
}

// rowsRead sums the rows the scans of audit_events read: those they
// returned and those their filters dropped, in every loop.
func (n planNode) rowsRead() float64 {
	var r float64
	if strings.Contains(n.NodeType, "Scan") && strings.HasPrefix(n.Relation, "audit_events") {
		r = (n.ActualRows + n.RemovedByFilter + n.RemovedByRecheck) * n.ActualLoops
	}
	for _, c := range n.Plans {
		r += c.rowsRead()
	}
	return r
}

// searchOrgID returns the organization to search: the dashboard section's
// when it ran, else one loaded here the same way (generated, COPYed in time
// order) with -search-events events.
func (b *bench) searchOrgID(ctx context.Context) (int64, int, error) {
	if b.dash != nil {
		return b.dash.orgID, b.dash.events, nil
	}
	n := b.cfg.searchEvents
	if n == 0 {
		n = b.cfg.dashEvents
	}
	var id int64
	if err := b.db.GetContext(ctx, &id, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise') RETURNING id`, searchOrg); err != nil {
		return 0, 0, err
	}
	d := &dashboard{events: n, gen: newGenerator(b.cfg.seed+2, b.cfg.users, b.cfg.days, b.now)}
	// The members are not inserted, so they have no users.id: give each
	// one of its own, as the platform sends each user's id (with none, every
	// event's actor_user_id and user_asset would be "0": one user id for
	// every member, which the actor search walks under each of its emails).
	for i := range d.gen.members {
		d.gen.members[i].id = int64(100_000 + i)
	}
	dir := b.tmp + "/search"
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	logf("search: generating %d events over %d days for %q", n, b.cfg.days, searchOrg)
	if err := d.generate(dir, b.cfg.days); err != nil {
		return 0, 0, err
	}
	logf("search: COPY of %d events in time order", n)
	if _, got, err := b.copyDays(ctx, dir, id, nil); err != nil {
		return 0, 0, err
	} else if got != n {
		return 0, 0, fmt.Errorf("search: wrote %d rows, want %d", got, n)
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, id, n); err != nil {
		return 0, 0, err
	}
	logf("search: VACUUM (ANALYZE) audit_events")
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events`); err != nil {
		return 0, 0, err
	}
	return id, n, b.settle(ctx)
}

// searchCases are the filters, their values taken from the organization's
// newest events that carry them.
func (b *bench) searchCases(ctx context.Context, org int64) ([]searchCase, error) {
	pick := func(col string) (string, error) {
		var v string
		err := b.db.GetContext(ctx, &v, `SELECT `+col+` FROM audit_events WHERE org_id = $1 AND `+col+` IS NOT NULL
			AND ts > now() - interval '30 days' ORDER BY ts DESC LIMIT 1`, org)
		if err != nil {
			return "", fmt.Errorf("a value of %s: %w", col, err)
		}
		return v, nil
	}
	vals := map[string]string{}
	for _, col := range []string{"actor_email", "actor_user_id", "user_email", "entity_name", "project_asset"} {
		v, err := pick(col)
		if err != nil {
			return nil, err
		}
		vals[col] = v
	}
	return []searchCase{
		{"no filter", storage.EventFilter{}},
		{"time window (last 7 days)", storage.EventFilter{Start: b.today.AddDate(0, 0, -6)}},
		{"actions [user:login]", storage.EventFilter{Actions: []string{"user:login"}}},
		{"actions [user:login, report:read]", storage.EventFilter{Actions: []string{"user:login", "report:read"}}},
		{"actions [user:deactivate] (rare)", storage.EventFilter{Actions: []string{"user:deactivate"}}},
		{"actor (an email)", storage.EventFilter{Actor: vals["actor_email"]}},
		{"actor (a user id)", storage.EventFilter{Actor: vals["actor_user_id"]}},
		{"targetUser (an email)", storage.EventFilter{TargetUser: vals["user_email"]}},
		{"entity (a name)", storage.EventFilter{Entity: vals["entity_name"]}},
		{"project (an asset id)", storage.EventFilter{Project: vals["project_asset"]}},
		{"responseCodeMin 400", storage.EventFilter{CodeMin: 400}},
		{"responseCode 500–599", storage.EventFilter{CodeMin: 500, CodeMax: 599}},
		{"dashboard: [user:login], responseCodeMin 400", storage.EventFilter{Actions: []string{"user:login"}, CodeMin: 400}},
	}, nil
}

// searchResult is one case in one order.
type searchResult struct {
	deepPage          int // the page measured as deep (searchDeep, or the last full one)
	read1, ret1       float64
	readDeep, retDeep float64
	p50First, p50Deep time.Duration
}

func perRow(read, ret float64) float64 { return read / max(ret, 1) }

func (b *bench) measureSearch(ctx context.Context) error {
	org, n, err := b.searchOrgID(ctx)
	if err != nil {
		return err
	}
	cases, err := b.searchCases(ctx, org)
	if err != nil {
		return err
	}
	s, err := storage.Open(ctx, b.dbURL)
	if err != nil {
		return err
	}
	defer s.Close()
	s.DB().SetMaxOpenConns(1)
	explain := func(f storage.EventFilter) (planNode, error) {
		q, args, err := storage.EventsQuery(f)
		if err != nil {
			return planNode{}, err
		}
		var raw string
		if err := s.DB().QueryRowContext(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+q, args...).Scan(&raw); err != nil {
			return planNode{}, err
		}
		var out []struct{ Plan planNode }
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return planNode{}, err
		}
		return out[0].Plan, nil
	}
	p50 := func(f storage.EventFilter) (time.Duration, error) {
		var ds []time.Duration
		for range b.cfg.searchRuns {
			t := time.Now()
			if _, _, _, err := s.Events(ctx, f); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(t))
		}
		return median(ds), nil
	}
	logf("search: %d filters × 2 orders on %d events", len(cases), n)
	worst := 0.0
	for _, c := range cases {
		for _, newest := range []bool{true, false} {
			f := c.f
			f.OrgID, f.NewestFirst, f.Limit = org, newest, searchPage
			if f.Start.IsZero() {
				f.Start = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			f.End = b.now.Add(24 * time.Hour)
			var r searchResult
			first, err := explain(f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			r.read1, r.ret1 = first.rowsRead(), first.ActualRows
			if r.p50First, err = p50(f); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			// Follow the cursors to page searchDeep (or the last full page).
			deep := f
			r.deepPage = 1
			for r.deepPage < searchDeep {
				_, cursors, more, err := s.Events(ctx, deep)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				if !more {
					break
				}
				next := deep
				next.After = cursors[len(cursors)-1]
				if es, _, _, err := s.Events(ctx, next); err != nil {
					return err
				} else if len(es) < searchPage {
					break
				}
				deep = next
				r.deepPage++
			}
			dp, err := explain(deep)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			r.readDeep, r.retDeep = dp.rowsRead(), dp.ActualRows
			if r.p50Deep, err = p50(deep); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			order := "oldest first"
			if newest {
				order = "newest first"
			}
			a, d := perRow(r.read1, r.ret1), perRow(r.readDeep, r.retDeep)
			worst = max(worst, a, d)
			b.rows = append(b.rows, row{
				metric: fmt.Sprintf("search %s, %s: rows read per row returned, page 1 / page %d (p50 ms)", c.name, order, r.deepPage),
				ours:   fmt.Sprintf("%.1f / %.1f (%s / %s)", a, d, ms(r.p50First), ms(r.p50Deep)),
				base:   fmt.Sprintf("%.0f / %.0f rows returned", r.ret1, r.retDeep), ratio: "—",
				target: "≤ 20", pass: a <= 20 && d <= 20,
			})
		}
	}
	logf("search: worst rows read per row returned %.1f", worst)
	b.notes = append(b.notes, fmt.Sprintf("Search: organization of %s events (%d days); each filter's page of %d through the storage query `Events` (what the auditEvents resolver calls), "+
		"p50 of %d runs on one connection; rows read per row returned from EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON): the rows every scan of audit_events returned or filtered out, in every loop, over the rows the statement returned (at least 1). "+
		"The filter values are those of the organization's newest event that has one", thousands(n), b.cfg.days, searchPage, b.cfg.searchRuns))
	if b.cfg.searchDayEvents == 0 {
		return nil
	}
	return b.measureBusyDay(ctx)
}

// measureBusyDay loads two organizations whose events all fall in the
// current day, -search-day-events and 10,000, with the same members, and
// runs the README's dashboard query on each with -search-clients clients.
func (b *bench) measureBusyDay(ctx context.Context) error {
	var userIDs []int64
	if err := b.db.SelectContext(ctx, &userIDs, `SELECT user_id FROM memberships WHERE org_id = $1 ORDER BY user_id LIMIT $2`, b.orgID, busyMembers); err != nil {
		return err
	}
	load := func(name string, n int) (int64, error) {
		var id int64
		if err := b.db.GetContext(ctx, &id, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise') RETURNING id`, name); err != nil {
			return 0, err
		}
		if _, err := b.db.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, added_at, accepted_at)
			SELECT $1, u, CASE WHEN u = $3 THEN 'admin' ELSE 'member' END, 'full', 'full', now() - interval '1 year', now() - interval '1 year'
			FROM unnest($2::bigint[]) u`, id, pq.Array(userIDs), userIDs[0]); err != nil {
			return 0, err
		}
		// The events of today until now, evenly spread: the generator's
		// action mix in short (a tenth user:login, 4% of those refused),
		// actors among the members.
		logf("search: %d events today for %q", n, name)
		if _, err := b.db.ExecContext(ctx, `INSERT INTO audit_events (org_id, seq, ts, action, actor_email, actor_ip,
				entity_name, project_name, response_code)
			SELECT $1, g, $2::timestamptz + (now() - $2::timestamptz) * (g::float8 / $3),
				(ARRAY['run:update','run:update','run:update','run:update','run:update','run:update','artifact:read','artifact:read',
					'artifact:create','project:read','report:read','user:login'])[1 + g % 12],
				u.email, '10.0.' || (g % 250) || '.1', 'team' || (g % 20), 'project' || (g % 240),
				CASE WHEN g % 12 = 11 AND g % 25 = 0 THEN 401 WHEN g % 12 = 6 AND g % 40 = 0 THEN 404 WHEN g % 499 = 0 THEN 500 ELSE 200 END
			FROM generate_series(1, $3) g
			JOIN LATERAL (SELECT email FROM users WHERE id = ($4::bigint[])[1 + (g * 7) % cardinality($4::bigint[])]) u ON true`,
			id, b.today, n, pq.Array(userIDs)); err != nil {
			return 0, err
		}
		if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, id, n); err != nil {
			return 0, err
		}
		return id, b.buildRollups(ctx, id, nil)
	}
	if _, err := load(busyOrg, b.cfg.searchDayEvents); err != nil {
		return err
	}
	if _, err := load(calmOrg, calmEvents); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events, activity_days, memberships`); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	query := func(org string) string {
		return `{ organization(name: "` + org + `") {
			users(first: 50, filter: {status: [ACTIVE]}, orderBy: {field: LAST_ACTIVE, direction: DESC}) {
			  totalCount
			  nodes { name username email role status lastActiveAt lastActiveDisplay activeDays dateAdded teams { name } }
			  pageInfo { hasNextPage endCursor } }
			activity {
			  totalActiveUsers { count }
			  usersActiveOverTime(period: LAST_30_DAYS) { points { date activeUsers } } }
			auditEvents(first: 20, filter: {actions: ["user:login"], responseCodeMin: 400}) {
			  nodes { timestamp action actorEmail responseCode } } } }`
	}
	type answer struct {
		Organization struct {
			AuditEvents struct {
				Nodes []struct {
					Action       string
					ResponseCode int
				}
			}
		}
	}
	clients := b.cfg.searchClients
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	run := func(org string) (loadStats, error) {
		q := query(org)
		return loadTest(ctx, clients, b.cfg.searchDuration, func() error {
			var a answer
			if _, err := b.graphql(ctx, client, q, &a); err != nil {
				return err
			}
			if len(a.Organization.AuditEvents.Nodes) != 20 {
				return fmt.Errorf("%s: %d events, want 20", org, len(a.Organization.AuditEvents.Nodes))
			}
			for _, e := range a.Organization.AuditEvents.Nodes {
				if e.Action != "user:login" || e.ResponseCode < 400 {
					return fmt.Errorf("%s: event %+v does not match the filter", org, e)
				}
			}
			return nil
		})
	}
	var busy, calm []loadStats
	for round := range 2 {
		for _, org := range []string{calmOrg, busyOrg} {
			logf("search: dashboard query on %s, round %d, %d clients for %s", org, round+1, clients, b.cfg.searchDuration)
			st, err := run(org)
			if err != nil {
				return fmt.Errorf("dashboard query on %s: %w", org, err)
			}
			if org == busyOrg {
				busy = append(busy, st)
			} else {
				calm = append(calm, st)
			}
		}
	}
	best := func(s []loadStats) loadStats {
		return slices.MaxFunc(s, func(a, b loadStats) int {
			switch {
			case a.rate() < b.rate():
				return -1
			case a.rate() > b.rate():
				return 1
			}
			return 0
		})
	}
	bu, ca := best(busy), best(calm)
	name := fmt.Sprintf("search: README dashboard query, %d clients, %s vs %s events today", clients, thousands(b.cfg.searchDayEvents), thousands(calmEvents))
	b.rows = append(b.rows,
		row{metric: name + ": req/s", ours: fmt.Sprintf("%.0f", bu.rate()), base: fmt.Sprintf("%.0f", ca.rate()),
			ratio: fmt.Sprintf("%.2f", bu.rate()/ca.rate()), target: "≥ 0.70", pass: bu.rate() >= 0.7*ca.rate()},
		row{metric: name + ": p50 / p99 ms", ours: ms(bu.p50) + " / " + ms(bu.p99), base: ms(ca.p50) + " / " + ms(ca.p99),
			ratio: fmt.Sprintf("%.2f / %.2f", bu.p50.Seconds()/ca.p50.Seconds(), bu.p99.Seconds()/ca.p99.Seconds()), target: "—", info: true})
	b.notes = append(b.notes, fmt.Sprintf("Search, busy day: organizations %q (%s events) and %q (%s), every event between today 00:00 UTC and now, "+
		"made by SQL (a tenth user:login, 4%% of those 401), the same %d members (default's first), rollups built from the events; "+
		"the README's dashboard query from %d clients for %s per round, 2 rounds alternating, best round of each", busyOrg, thousands(b.cfg.searchDayEvents),
		calmOrg, thousands(calmEvents), busyMembers, clients, b.cfg.searchDuration))
	logf("search: dashboard query: %.0f req/s with %d events today, %.0f with %d", bu.rate(), b.cfg.searchDayEvents, ca.rate(), calmEvents)
	return nil
}
