package main

// The organization dashboard: the activity panels end to end through
// GraphQL against the same answers computed by raw SQL on audit_events and
// by the server's own SQL on the activity_days rollup (the *Rollup methods,
// what the panels read before the day bitmaps; GraphQL reads the bitmaps),
// and the Users tab's connection under concurrent load.
//
// Its data lives in an organization of its own, `dash`, loaded with COPY
// (10M events cannot go through HTTP ingest in the harness's time), with the
// rollups built from the events with INSERT … SELECT … GROUP BY as ingest
// would have built them. Loading is setup, not measured.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/storage"
)

const dashOrg = "dash"

// dashStreams is how many independent generator streams make the dash
// events: fixed, so that a seed always gives the same data.
const dashStreams = 2

// dashPeriods are the self-managed periods, shortest first.
var dashPeriods = []string{"LAST_30_DAYS", "LAST_3_MONTHS", "LAST_6_MONTHS", "LAST_12_MONTHS", "ALL_TIME"}

// dashboard is the state of the dashboard section.
type dashboard struct {
	orgID  int64
	gen    *generator
	events int
	memberDays, activeMembers, deactivated,
	teams, teamMembers int
	first time.Time // the first day in activity_days
	setup []string  // what loading took, for the notes
	// ingestCheck says how ingest's rollups of the default organization
	// compared with the same rollups computed from its events.
	ingestCheck string
	floor       string // what every GraphQL request costs
	panels      []panelResult
	users       usersResult
	mt          *multiTenant // the multi-tenant organization and its panels
}

// panelResult is one panel and period.
type panelResult struct {
	panel, period    string
	from, to         time.Time
	answer           string // the count, or the points summarized
	gql, rollup, raw time.Duration
	gqlMin, gqlMax   time.Duration
	rawMin, rawMax   time.Duration
	rollMin, rollMax time.Duration
}

// usersResult is the Users tab's load test.
type usersResult struct {
	clients                    int
	duration                   time.Duration
	ours, base                 loadStats
	active, members, pageNodes int
}

type loadStats struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (s loadStats) rate() float64 { return float64(s.n) / s.elapsed.Seconds() }

// measureDashboard loads the dash organization and measures its panels and
// its users connection.
func (b *bench) measureDashboard(ctx context.Context) error {
	if b.cfg.dashEvents == 0 {
		logf("dashboard: skipped (-dash-events 0)")
		return nil
	}
	b.dash = &dashboard{events: b.cfg.dashEvents}
	if err := b.checkIngestRollup(ctx); err != nil {
		return err
	}
	if err := b.loadDashboard(ctx); err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	if err := b.measurePanels(ctx); err != nil {
		return fmt.Errorf("panels: %w", err)
	}
	err := b.measureMultiTenant(ctx)
	b.stopMultiTenant()
	if err != nil {
		return fmt.Errorf("multi-tenant panels: %w", err)
	}
	return b.measureUsersConnection(ctx)
}

// loadDashboard creates the dash organization, its members and teams,
// loads its events with COPY in time order and builds its rollups.
func (b *bench) loadDashboard(ctx context.Context) error {
	d := b.dash
	t0 := time.Now()
	d.gen = newGenerator(b.cfg.seed+1, b.cfg.users, b.cfg.days, b.now)
	// Users are global: dash's members are other people than default's.
	for i := range d.gen.members {
		m := &d.gen.members[i]
		local := m.username
		m.username = "dash-" + local
		m.email = local + "@dash.example.com"
	}
	if err := b.db.GetContext(ctx, &d.orgID, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise') RETURNING id`, dashOrg); err != nil {
		return fmt.Errorf("organization %s: %w", dashOrg, err)
	}
	if err := b.insertDashMembers(ctx); err != nil {
		return err
	}

	logf("dashboard: generating %d events over %d days for %d members of %q (%d streams)", d.events, b.cfg.days, b.cfg.users, dashOrg, dashStreams)
	dir := b.tmp + "/dash"
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	tGen := time.Now()
	if err := d.generate(dir, b.cfg.days); err != nil {
		return err
	}
	genDur := time.Since(tGen)

	logf("dashboard: COPY of %d events in time order", d.events)
	if err := b.settle(ctx); err != nil {
		return err
	}
	tCopy := time.Now()
	size, n, err := b.copyDays(ctx, dir, d.orgID, nil)
	if err != nil {
		return err
	}
	copyDur := time.Since(tCopy)
	if n != d.events {
		return fmt.Errorf("wrote %d rows, want %d", n, d.events)
	}
	var got int
	if err := b.db.GetContext(ctx, &got, `SELECT count(*) FROM audit_events WHERE org_id = $1`, d.orgID); err != nil {
		return err
	}
	if got != d.events {
		return fmt.Errorf("COPY loaded %d events into %s, want %d", got, dashOrg, d.events)
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, d.orgID, d.events); err != nil {
		return err
	}

	logf("dashboard: building activity_days and the memberships' activity from the events")
	tRoll := time.Now()
	if err := b.buildRollups(ctx, d.orgID, nil); err != nil {
		return err
	}
	rollDur := time.Since(tRoll)

	if err := b.loadMultiTenant(ctx, dir); err != nil {
		return fmt.Errorf("multi-tenant organization: %w", err)
	}
	os.RemoveAll(dir)

	logf("dashboard: VACUUM (ANALYZE)")
	tVac := time.Now()
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events, activity_days, activity_day_bits, activity_members, memberships, users, teams, team_members`); err != nil {
		return err
	}
	visible, err := b.settleRollups(ctx)
	if err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	vacDur := time.Since(tVac)

	if err := b.db.GetContext(ctx, &d.memberDays, `SELECT count(*) FROM activity_days WHERE org_id = $1`, d.orgID); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &d.activeMembers, `SELECT count(*) FROM memberships WHERE org_id = $1 AND last_active_at IS NOT NULL`, d.orgID); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &d.first, `SELECT min(day) FROM activity_days WHERE org_id = $1`, d.orgID); err != nil {
		return err
	}
	d.first = d.first.UTC()
	d.setup = append(d.setup,
		fmt.Sprintf("generating %s (%s of CSV)", genDur.Round(100*time.Millisecond), mib(size)),
		fmt.Sprintf("COPY %s", copyDur.Round(100*time.Millisecond)),
		fmt.Sprintf("rollups %s", rollDur.Round(100*time.Millisecond)),
		fmt.Sprintf("VACUUM (ANALYZE) and CHECKPOINT %s (%s)", vacDur.Round(100*time.Millisecond), visible),
		fmt.Sprintf("%s in all", time.Since(t0).Round(time.Second)))
	logf("dashboard: loaded in %s: %d member-days for %d of %d members, first day %s",
		time.Since(t0).Round(time.Second), d.memberDays, d.activeMembers, b.cfg.users, d.first.Format(time.DateOnly))
	return nil
}

// settleRollups vacuums activity_days until its visibility map covers the
// whole table, as on a server whose autovacuum has caught up. VACUUM cannot
// mark a page all-visible while an older snapshot is open (autovacuum's
// ANALYZE of the partitions just loaded, for one), and the panels'
// index-only scans then read every heap row of those pages: a run whose
// first VACUUM lost that race measured one organization's rollup queries
// 2 to 3 times slower than the other's. It returns what it did, for the notes.
func (b *bench) settleRollups(ctx context.Context) (string, error) {
	const tries = 30
	for i := 1; ; i++ {
		var visible, pages int
		if err := b.db.QueryRowContext(ctx, `SELECT relallvisible, relpages FROM pg_class WHERE oid = 'activity_days'::regclass`).Scan(&visible, &pages); err != nil {
			return "", err
		}
		if visible >= pages || i == tries {
			logf("dashboard: activity_days: %d of %d pages all-visible after %d VACUUM", visible, pages, i)
			return fmt.Sprintf("`activity_days`: %d of %d pages all-visible after %d VACUUM", visible, pages, i), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(2 * time.Second):
		}
		if _, err := b.db.ExecContext(ctx, `VACUUM activity_days`); err != nil {
			return "", err
		}
	}
}

// insertDashMembers inserts the dash members as users, their memberships
// (accepted long ago; one in a hundred users deactivated) and the teams
// they work in (everyone in their main team, one in five in a second one).
func (b *bench) insertDashMembers(ctx context.Context) error {
	d := b.dash
	g := d.gen
	var names, fullNames, emails, roles, seats []string
	var added []time.Time
	var deactivated []string // "" for none
	for i, m := range g.members {
		names, fullNames, emails, roles = append(names, m.username), append(fullNames, m.name), append(emails, m.email), append(roles, m.role)
		seat := "full"
		if m.role == "viewer" {
			seat = "viewer"
		}
		seats = append(seats, seat)
		added = append(added, m.added)
		gone := ""
		if i%100 == 37 {
			gone = b.now.AddDate(0, 0, -(i % 90)).Format(time.RFC3339)
			d.deactivated++
		}
		deactivated = append(deactivated, gone)
	}
	tx, err := b.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `INSERT INTO users (username, name, email, created_at, deactivated_at)
		SELECT n, f, e, c, NULLIF(d, '')::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS x(n, f, e, c, d)
		RETURNING id, username`,
		pq.Array(names), pq.Array(fullNames), pq.Array(emails), pq.Array(added), pq.Array(deactivated))
	if err != nil {
		return fmt.Errorf("insert users: %w", err)
	}
	ids := map[string]int64{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		ids[name] = id
	}
	if err := rows.Close(); err != nil {
		return err
	}
	userIDs := make([]int64, len(g.members))
	for i := range g.members {
		g.members[i].id = ids[g.members[i].username]
		userIDs[i] = g.members[i].id
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, added_at, accepted_at)
		SELECT $1, u, r, s, 'full', a, a FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[]) AS x(u, r, s, a)`,
		d.orgID, pq.Array(userIDs), pq.Array(roles), pq.Array(seats), pq.Array(added)); err != nil {
		return fmt.Errorf("insert memberships: %w", err)
	}
	teamIDs := map[string]int64{}
	rows, err = tx.QueryContext(ctx, `INSERT INTO teams (org_id, name) SELECT $1, unnest($2::text[]) RETURNING id, name`, d.orgID, pq.Array(entityNames))
	if err != nil {
		return fmt.Errorf("insert teams: %w", err)
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		teamIDs[name] = id
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var tmTeams, tmUsers []int64
	for i, m := range g.members {
		tmTeams, tmUsers = append(tmTeams, teamIDs[entityNames[m.entity]]), append(tmUsers, m.id)
		if i%5 == 0 {
			tmTeams, tmUsers = append(tmTeams, teamIDs[entityNames[(m.entity+1)%len(entityNames)]]), append(tmUsers, m.id)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])`,
		pq.Array(tmTeams), pq.Array(tmUsers)); err != nil {
		return fmt.Errorf("insert team members: %w", err)
	}
	d.teams, d.teamMembers = len(teamIDs), len(tmUsers)
	return tx.Commit()
}

// generate writes the events as CSV rows without org_id and seq, one file
// per stream and UTC day (dir/s<stream>-<day>.csv), each stream from its own
// copy of the generator with its own random source.
func (d *dashboard) generate(dir string, days int) error {
	var wg sync.WaitGroup
	errs := make([]error, dashStreams)
	for s := range dashStreams {
		n := d.events / dashStreams
		if s == 0 {
			n += d.events % dashStreams
		}
		g := *d.gen
		g.r = rand.New(rand.NewPCG(uint64(s)+0x5eed, d.gen.r.Uint64()))
		g.zipf = rand.NewZipf(g.r, 1.15, 6, uint64(len(g.rank)-1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[s] = g.writeDays(dir, s, days, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeDays generates n events into one file per day.
func (g *generator) writeDays(dir string, stream, days, n int) error {
	files := make([]*os.File, days)
	ws := make([]*bufio.Writer, days)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	var buf []byte
	for range n {
		var e event
		g.fill(&e)
		day := int(e.ts.Sub(g.first) / (24 * time.Hour))
		if ws[day] == nil {
			f, err := os.Create(fmt.Sprintf("%s/s%d-%03d.csv", dir, stream, day))
			if err != nil {
				return err
			}
			files[day], ws[day] = f, bufio.NewWriterSize(f, 64<<10)
		}
		// appendCSV with org 0 and seq 0 starts with "0,0,": the rest is the
		// row from ts on, which sorts by time as text.
		buf = appendCSV(buf[:0], &e, 0, 0)
		if _, err := ws[day].Write(buf[4:]); err != nil {
			return err
		}
	}
	for day, w := range ws {
		if w == nil {
			continue
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := files[day].Close(); err != nil {
			return err
		}
		files[day] = nil
	}
	return nil
}

// copyDays streams the day files' rows that keep accepts (all when nil),
// each day's sorted by time and numbered 1..N in that order, into one psql
// \copy into organization orgID. It returns the CSV size and N.
func (b *bench) copyDays(ctx context.Context, dir string, orgID int64, keep func(line []byte) bool) (int64, int, error) {
	cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.dbURL,
		"-c", `\copy audit_events(`+csvColumns()+`) from pstdin with (format csv)`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	prefix := strconv.FormatInt(orgID, 10) + ","
	var size int64
	seq := 0
	werr := func() error {
		for day := 0; day < b.cfg.days; day++ {
			var data []byte
			for s := range dashStreams {
				path := fmt.Sprintf("%s/s%d-%03d.csv", dir, s, day)
				part, err := os.ReadFile(path)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				data = append(data, part...)
			}
			lines := bytes.SplitAfter(data, []byte{'\n'})
			if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
				lines = lines[:len(lines)-1]
			}
			// RFC 3339 UTC times of one layout sort as text.
			const tsLen = len("2006-01-02T15:04:05Z")
			sort.SliceStable(lines, func(i, j int) bool { return bytes.Compare(lines[i][:tsLen], lines[j][:tsLen]) < 0 })
			for _, l := range lines {
				if keep != nil && !keep(l) {
					continue
				}
				seq++
				w.WriteString(prefix)
				w.WriteString(strconv.Itoa(seq))
				w.WriteByte(',')
				if _, err := w.Write(l); err != nil {
					return err
				}
				size += int64(len(prefix) + len(strconv.Itoa(seq)) + 1 + len(l))
			}
		}
		return w.Flush()
	}()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("psql \\copy: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if werr != nil {
		return 0, 0, werr
	}
	// The actor search finds an event by its user id through the pairs
	// ingest records with the events (storage.AppendEvents); COPY records
	// none, so they are recorded here, as migration 0016 does for the
	// events before it.
	if _, err := b.db.ExecContext(ctx, `INSERT INTO audit_event_actors (org_id, user_id, email)
		SELECT DISTINCT org_id, actor_user_id, actor_email FROM audit_events
		WHERE org_id = $1 AND actor_user_id IS NOT NULL AND actor_email IS NOT NULL ON CONFLICT DO NOTHING`, orgID); err != nil {
		return 0, 0, fmt.Errorf("actor pairs: %w", err)
	}
	return size, seq, nil
}

// buildRollups fills activity_days and the memberships' activity columns
// of an organization from its events, as ingest would have: an event's
// actor is the member whose email is its actor_email ignoring case, active
// on the event's UTC day; a member's last activity is their latest event,
// their active days the number of such days; run:* and report:* events are
// counted. Events before since do not count (the multi-tenant cut-off; nil
// for none). Ingest tries actor_user_id first; the generator only ever sets
// it to the id of the member whose email the event carries, so matching by
// email alone finds the same members.
func (b *bench) buildRollups(ctx context.Context, orgID int64, since *time.Time) error {
	// The members were just inserted: without fresh statistics the planner
	// may take the organization for memberless and match every event's actor
	// against every user in a nested loop, which took over ten minutes once.
	if _, err := b.db.ExecContext(ctx, `ANALYZE users, memberships`); err != nil {
		return err
	}
	_, err := b.db.ExecContext(ctx, `WITH x AS (
			SELECT m.user_id, (e.ts AT TIME ZONE 'UTC')::date AS day, max(e.ts) AS last_at,
				count(*) FILTER (WHERE e.action LIKE 'run:%') AS runs,
				count(*) FILTER (WHERE e.action LIKE 'report:%') AS reports
			FROM audit_events e
			JOIN users u ON lower(u.email) = lower(e.actor_email)
			JOIN memberships m ON m.org_id = $1 AND m.user_id = u.id
			WHERE e.org_id = $1 AND ($2::timestamptz IS NULL OR e.ts >= $2)
			GROUP BY 1, 2
		), days AS (
			INSERT INTO activity_days (org_id, user_id, day, last_at) SELECT $1, user_id, day, last_at FROM x
		)
		UPDATE memberships m SET active_days = n.days, last_active_at = n.last_at, run_events = n.runs, report_events = n.reports
		FROM (SELECT user_id, count(*) AS days, max(last_at) AS last_at, sum(runs) AS runs, sum(reports) AS reports
			FROM x GROUP BY user_id) n
		WHERE m.org_id = $1 AND m.user_id = n.user_id`, orgID, since)
	if err != nil {
		return err
	}
	// The day bitmaps the panels read (migration 0014), from activity_days,
	// as ingest would have kept them.
	_, err = b.db.ExecContext(ctx, `SELECT activity_bits_rebuild($1)`, orgID)
	return err
}

// periodDays is the README's rule for a period, written out here rather
// than taken from activity.Period so that the check below tests it too:
// periods end today (UTC, included); N days are today and the N-1 before;
// N months start the day after the same date N months ago; ALL_TIME starts
// at the first day with activity.
func periodDays(p string, today, first time.Time) (from, to time.Time) {
	switch p {
	case "LAST_7_DAYS":
		return today.AddDate(0, 0, -6), today
	case "LAST_90_DAYS":
		return today.AddDate(0, 0, -89), today
	case "LAST_30_DAYS":
		return today.AddDate(0, 0, -29), today
	case "LAST_3_MONTHS":
		return today.AddDate(0, -3, 1), today
	case "LAST_6_MONTHS":
		return today.AddDate(0, -6, 1), today
	case "LAST_12_MONTHS":
		return today.AddDate(0, -12, 1), today
	}
	return first, today
}

// The raw SQL on audit_events. An actor is a member when actor_email
// matches a member's email ignoring case, as ingest matches them. The
// distinct actor_email values (per UTC day for the series) are found first,
// a hash aggregate PostgreSQL runs in parallel, then matched to the members
// and counted distinct by member (two spellings of one email are one
// member). The period is the range [from, to + 1 day) on ts, after org_id
// the leading column of the (org_id, ts, seq) primary key; ALL_TIME has no
// lower bound (2000-01-01, before which ingest refuses events) and its
// series starts at the first day a member was active.
const (
	rawActors = `SELECT DISTINCT e.actor_email AS email FROM audit_events e
		WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 AND e.actor_email IS NOT NULL`
	rawDayActors = `SELECT DISTINCT (e.ts AT TIME ZONE 'UTC')::date AS day, e.actor_email AS email FROM audit_events e
		WHERE e.org_id = $1 AND e.ts >= $2 AND e.ts < $3 AND e.actor_email IS NOT NULL`
	rawMembers = `JOIN users u ON lower(u.email) = lower(x.email) JOIN memberships m ON m.org_id = $1 AND m.user_id = u.id`
	rawTotal   = `SELECT count(DISTINCT m.user_id) FROM (` + rawActors + `) x ` + rawMembers
	rawDaily   = `WITH a AS (SELECT x.day, count(DISTINCT m.user_id) AS users FROM (` + rawDayActors + `) x ` + rawMembers + ` GROUP BY x.day)
		SELECT d::date AS day, COALESCE(a.users, 0) AS users
		FROM generate_series(COALESCE($4::date, (SELECT min(day) FROM a)), ($3::timestamptz AT TIME ZONE 'UTC')::date - 1, interval '1 day') AS d
		LEFT JOIN a ON a.day = d::date ORDER BY d`
)

// dayCount is one point of a series, as the server's storage returns it.
type dayCount = storage.DayCount

// timed runs fn and returns its wall time.
func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// measurePanels measures each self-managed panel and period through
// GraphQL, raw SQL and the rollup SQL, and checks that they agree.
func (b *bench) measurePanels(ctx context.Context) error {
	d := b.dash
	roll, rawDB, err := b.panelConns(ctx)
	if err != nil {
		return err
	}
	defer roll.Close()
	defer rawDB.Close()
	if err := b.measureFloor(ctx, roll); err != nil {
		return err
	}
	n := time.Now().UTC()
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	for _, panel := range []string{"totalActiveUsers", "usersActiveOverTime"} {
		for _, period := range dashPeriods {
			r := panelResult{panel: panel, period: period}
			r.from, r.to = periodDays(period, today, d.first)
			end := r.to.AddDate(0, 0, 1)
			var rawFrom any = r.from
			var seriesFrom any = r.from
			if period == "ALL_TIME" {
				// No lower bound: ingest refuses events before 2000.
				rawFrom, seriesFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil
			}
			var (
				gqlCount, rollCount, rawCount int
				gqlPoints                     gqlSeries
				rollSeries, rawSeries         []dayCount
			)
			var gql, rollup, raw func() error
			if panel == "totalActiveUsers" {
				q := fmt.Sprintf(`{ organization(name: %q) { activity { totalActiveUsers(period: %s) { period from to count } } } }`, dashOrg, period)
				gql = func() error {
					var out struct {
						Organization struct {
							Activity struct{ TotalActiveUsers gqlCountResult }
						}
					}
					if _, err := b.graphql(ctx, b.client, q, &out); err != nil {
						return err
					}
					c := out.Organization.Activity.TotalActiveUsers
					if err := checkPeriod(c.Period, c.From, c.To, r); err != nil {
						return err
					}
					gqlCount = c.Count
					return nil
				}
				rollup = func() error {
					from, err := rollupFrom(ctx, roll, d.orgID, r, today)
					if err == nil {
						rollCount, err = roll.ActiveUsersRollup(ctx, d.orgID, from, r.to)
					}
					return err
				}
				raw = func() error { return rawDB.GetContext(ctx, &rawCount, rawTotal, d.orgID, rawFrom, end) }
			} else {
				q := fmt.Sprintf(`{ organization(name: %q) { activity { usersActiveOverTime(period: %s) { period from to points { date activeUsers } } } } }`, dashOrg, period)
				gql = func() error {
					var out struct {
						Organization struct {
							Activity struct{ UsersActiveOverTime gqlSeries }
						}
					}
					if _, err := b.graphql(ctx, b.client, q, &out); err != nil {
						return err
					}
					s := out.Organization.Activity.UsersActiveOverTime
					if err := checkPeriod(s.Period, s.From, s.To, r); err != nil {
						return err
					}
					gqlPoints = s
					return nil
				}
				rollup = func() error {
					from, err := rollupFrom(ctx, roll, d.orgID, r, today)
					if err == nil {
						rollSeries, err = roll.DailyActiveUsersRollup(ctx, d.orgID, from, r.to)
					}
					return err
				}
				raw = func() error {
					rawSeries = rawSeries[:0]
					return rawDB.SelectContext(ctx, &rawSeries, rawDaily, d.orgID, rawFrom, end, seriesFrom)
				}
			}

			if err := b.timePanel(ctx, &r, gql, rollup, raw); err != nil {
				return err
			}

			// The three answers must agree.
			if panel == "totalActiveUsers" {
				if gqlCount != rollCount || gqlCount != rawCount {
					return fmt.Errorf("MISMATCH totalActiveUsers(%s) %s..%s: GraphQL %d, rollup SQL %d, raw SQL on audit_events %d",
						period, r.from.Format(time.DateOnly), r.to.Format(time.DateOnly), gqlCount, rollCount, rawCount)
				}
				r.answer = fmt.Sprintf("%d users", gqlCount)
			} else {
				if err := compareSeries(r, everyDay(r.from, r.to), gqlPoints, rollSeries, rawSeries); err != nil {
					return err
				}
				r.answer = summarize(rawSeries)
			}
			d.panels = append(d.panels, r)
			b.panelRows(r)
		}
	}
	return nil
}

// panelConns opens the two sides' database connections for the panels: the
// server's own storage code, for the rollup SQL, and a plain one for the
// raw SQL, one connection each. Each side has a connection of its own: a
// backend that has run the raw SQL's big parallel aggregates was seen to
// start later parallel queries about twice as slowly, which would flatter
// GraphQL against the rollup SQL. The server's connections never run the
// raw SQL either.
func (b *bench) panelConns(ctx context.Context) (*storage.Store, *sqlx.DB, error) {
	roll, err := storage.Open(ctx, b.dbURL)
	if err != nil {
		return nil, nil, err
	}
	roll.DB().SetMaxOpenConns(1)
	raw, err := sqlx.Open("postgres", b.dbURL)
	if err != nil {
		roll.Close()
		return nil, nil, err
	}
	raw.SetMaxOpenConns(1)
	return roll, raw, nil
}

// rollupFrom is the first day the server's rollup query reads for r: the
// period's, or for ALL_TIME the organization's first day with activity,
// which the server looks up for every ALL_TIME request.
func rollupFrom(ctx context.Context, roll *storage.Store, orgID int64, r panelResult, today time.Time) (time.Time, error) {
	if r.period != "ALL_TIME" {
		return r.from, nil
	}
	first, err := roll.FirstActivityDay(ctx, orgID)
	from, _ := periodDays(r.period, today, first.UTC())
	return from, err
}

// timePanel times one panel and period: warm-ups, then the runs, the three
// sides alternating; the raw SQL, slow, runs in the first rounds only,
// unwarmed: the previous combination has read the same partitions.
func (b *bench) timePanel(ctx context.Context, r *panelResult, gql, rollup, raw func() error) error {
	var gqls, rolls, raws []time.Duration
	for i := -b.cfg.dashWarmups; i < b.cfg.dashRuns; i++ {
		dg, err := timed(gql)
		if err != nil {
			return fmt.Errorf("%s(%s) via GraphQL: %w", r.panel, r.period, err)
		}
		dr, err := timed(rollup)
		if err != nil {
			return fmt.Errorf("%s(%s) rollup SQL: %w", r.panel, r.period, err)
		}
		if i >= 0 {
			gqls, rolls = append(gqls, dg), append(rolls, dr)
		}
		if i >= 0 && i < b.cfg.dashRawRuns {
			dw, err := timed(raw)
			if err != nil {
				return fmt.Errorf("%s(%s) raw SQL: %w", r.panel, r.period, err)
			}
			raws = append(raws, dw)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	r.gql, r.rollup, r.raw = median(gqls), median(rolls), median(raws)
	r.gqlMin, r.gqlMax = slices.Min(gqls), slices.Max(gqls)
	r.rollMin, r.rollMax = slices.Min(rolls), slices.Max(rolls)
	r.rawMin, r.rawMax = slices.Min(raws), slices.Max(raws)
	return nil
}

// panelRows adds a panel's two targets to the results table and logs it.
func (b *bench) panelRows(r panelResult) {
	speedup, ratio := r.raw.Seconds()/r.gql.Seconds(), r.gql.Seconds()/r.rollup.Seconds()
	name := fmt.Sprintf("%s(%s), median ms", r.panel, r.period)
	b.rows = append(b.rows,
		row{metric: name + ": GraphQL vs raw SQL on events", ours: ms(r.gql), base: ms(r.raw),
			ratio: fmt.Sprintf("%.0f× faster", speedup), target: "≥ 10× faster", pass: speedup >= 10},
		row{metric: name + ": GraphQL vs rollup SQL", ours: ms(r.gql), base: ms(r.rollup),
			ratio: fmt.Sprintf("%.2f", ratio), target: "≤ 1.50", pass: ratio <= 1.5})
	logf("dashboard: %s(%s) %s..%s = %s: GraphQL %s ms, rollup SQL %s ms, raw SQL %s ms (%.0f× faster, %.2f of the rollup)",
		r.panel, r.period, r.from.Format(time.DateOnly), r.to.Format(time.DateOnly), r.answer, ms(r.gql), ms(r.rollup), ms(r.raw), speedup, ratio)
}

// measureFloor times what every activity request costs whatever its
// panel, a trivial GraphQL query, and the server's min(day) query that
// ALL_TIME adds.
func (b *bench) measureFloor(ctx context.Context, roll *storage.Store) error {
	var viewer, firstDay []time.Duration
	for i := -b.cfg.dashWarmups; i < b.cfg.dashRuns; i++ {
		var out struct{ Viewer struct{ Username string } }
		dv, err := b.graphql(ctx, b.client, `{ viewer { username } }`, &out)
		if err != nil {
			return err
		}
		df, err := timed(func() error { _, err := roll.FirstActivityDay(ctx, b.dash.orgID); return err })
		if err != nil {
			return err
		}
		if i >= 0 {
			viewer, firstDay = append(viewer, dv), append(firstDay, df)
		}
	}
	b.dash.floor = fmt.Sprintf("Per-request floor, medians of %d in the same run: `{ viewer { username } }` through GraphQL %s ms; the `min(day)` query on `activity_days` that ALL_TIME adds %s ms.",
		b.cfg.dashRuns, ms(median(viewer)), ms(median(firstDay)))
	logf("dashboard: %s", b.dash.floor)
	return nil
}

type gqlCountResult struct {
	Period   string
	From, To time.Time
	Count    int
}

type gqlSeries struct {
	Period   string
	From, To time.Time
	Points   []struct {
		Date        time.Time
		ActiveUsers int
	}
}

func checkPeriod(period string, from, to time.Time, r panelResult) error {
	if period != r.period || !from.Equal(r.from) || !to.Equal(r.to) {
		return fmt.Errorf("MISMATCH %s(%s): GraphQL answered period %s from %s to %s, want %s to %s (a UTC midnight during the run also does this)",
			r.panel, r.period, period, from.Format(time.RFC3339), to.Format(time.RFC3339), r.from.Format(time.RFC3339), r.to.Format(time.RFC3339))
	}
	return nil
}

// compareSeries fails loudly, naming the first points that differ, unless
// the three series hold the same points and counts, one per day (or week)
// of the period: days are the points' dates.
func compareSeries(r panelResult, days []time.Time, g gqlSeries, roll, raw []dayCount) error {
	head := fmt.Sprintf("MISMATCH %s(%s) %s..%s", r.panel, r.period, r.from.Format(time.DateOnly), r.to.Format(time.DateOnly))
	if len(g.Points) != len(days) || len(roll) != len(days) || len(raw) != len(days) {
		return fmt.Errorf("%s: %d points wanted; GraphQL %d points, rollup SQL %d, raw SQL on audit_events %d", head, len(days), len(g.Points), len(roll), len(raw))
	}
	var diffs []string
	for i, day := range days {
		gp, rp, wp := g.Points[i], roll[i], raw[i]
		if !gp.Date.Equal(day) || !rp.Day.Equal(day) || !wp.Day.Equal(day) || gp.ActiveUsers != rp.Users || gp.ActiveUsers != wp.Users {
			diffs = append(diffs, fmt.Sprintf("%s: GraphQL %s=%d, rollup %s=%d, raw %s=%d", day.Format(time.DateOnly),
				gp.Date.UTC().Format(time.DateOnly), gp.ActiveUsers, rp.Day.UTC().Format(time.DateOnly), rp.Users, wp.Day.UTC().Format(time.DateOnly), wp.Users))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: %d points differ, first ones: %s", head, len(diffs), strings.Join(diffs[:min(len(diffs), 5)], "; "))
	}
	return nil
}

// everyDay returns the days from `from` to `to`, both included.
func everyDay(from, to time.Time) []time.Time {
	var ds []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		ds = append(ds, d)
	}
	return ds
}

// summarize describes a series by its points, their sum and their peak.
func summarize(s []dayCount) string {
	sum, peak := 0, 0
	for _, p := range s {
		sum += p.Users
		peak = max(peak, p.Users)
	}
	return fmt.Sprintf("%d points, Σ %s, max %d", len(s), thousands(sum), peak)
}

// graphql posts one query and decodes its data into out; it returns the
// request's wall time, send to end of body.
func (b *bench) graphql(ctx context.Context, client *http.Client, query string, out any) (time.Duration, error) {
	return graphqlAt(ctx, client, endpoint{url: b.srv.url, user: "admin", key: b.key}, query, out)
}

// endpoint is a server and the credentials its GraphQL requests carry.
type endpoint struct{ url, user, key string }

// graphqlAt is graphql against any server and user.
func graphqlAt(ctx context.Context, client *http.Client, ep endpoint, query string, out any) (time.Duration, error) {
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(ep.user, ep.key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /graphql: %s: %s", resp.Status, reply)
	}
	var env struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(reply, &env); err != nil {
		return 0, fmt.Errorf("POST /graphql: %w: %s", err, reply)
	}
	if len(env.Errors) > 0 {
		return 0, fmt.Errorf("POST /graphql: %s", reply)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return 0, fmt.Errorf("POST /graphql: %w: %s", err, reply)
	}
	return d, nil
}

// The Users tab's page: 50 active members, most recently active first.
const usersQuery = `{ organization(name: "dash") { users(first: 50, filter: {status: [ACTIVE]}, orderBy: {field: LAST_ACTIVE, direction: DESC}) {
	totalCount nodes { username name email role status lastActiveAt activeDays teams { name } } } } }`

type usersPage struct {
	Organization struct {
		Users struct {
			TotalCount int
			Nodes      []struct {
				Username, Name, Email, Role, Status string
				LastActiveAt                        *time.Time
				ActiveDays                          int
				Teams                               []struct{ Name string }
			}
		}
	}
}

// The server's SQL for that page, copied from storage/orgusers.go and
// storage/batch.go with the ACTIVE filter and LAST_ACTIVE DESC order: the
// count, the page, the page's teams.
const (
	usersFrom = ` FROM memberships m JOIN users u ON u.id = m.user_id CROSS JOIN (SELECT $2::timestamptz AS active_since) p
		WHERE m.org_id = $1 AND CASE WHEN u.deactivated_at IS NOT NULL THEN 'DEACTIVATED'
		WHEN m.accepted_at IS NULL THEN 'INVITE_PENDING'
		WHEN m.last_active_at >= p.active_since THEN 'ACTIVE' ELSE 'INACTIVE' END = ANY($3)`
	usersCountSQL = `SELECT count(*)` + usersFrom
	usersPageSQL  = `SELECT u.id, u.username, u.name, COALESCE(u.email, '') AS email, u.instance_admin,
		u.service_account_team, u.default_org_id, u.deactivated_at, u.created_at,
		m.org_id, m.user_id, m.role, m.models_seat, m.weave_access, m.added_at, m.accepted_at, m.invited_by,
		m.last_active_at, m.active_days, m.run_events, m.report_events,
		CASE WHEN u.deactivated_at IS NOT NULL THEN 'DEACTIVATED'
		WHEN m.accepted_at IS NULL THEN 'INVITE_PENDING'
		WHEN m.last_active_at >= p.active_since THEN 'ACTIVE' ELSE 'INACTIVE' END AS status,
		'' AS sort_key` + usersFrom + `
		ORDER BY m.last_active_at DESC NULLS LAST, m.user_id DESC LIMIT $4`
	usersTeamsSQL = `SELECT tm.user_id, t.id, t.org_id, t.name, t.created_at
		FROM unnest($1::bigint[], $2::bigint[]) AS k(org_id, user_id)
		JOIN teams t ON t.org_id = k.org_id
		JOIN team_members tm ON tm.team_id = t.id AND tm.user_id = k.user_id
		ORDER BY t.name`
)

// usersSQL runs the server's three queries for the page and returns the
// count and the page's size.
func (b *bench) usersSQL(ctx context.Context) (int, int, error) {
	d := b.dash
	since := time.Now().UTC().AddDate(0, -6, 0)
	var total int
	if err := b.db.GetContext(ctx, &total, usersCountSQL, d.orgID, since, pq.StringArray{"ACTIVE"}); err != nil {
		return 0, 0, err
	}
	rows, err := b.db.QueryxContext(ctx, usersPageSQL, d.orgID, since, pq.StringArray{"ACTIVE"}, 51)
	if err != nil {
		return 0, 0, err
	}
	var orgs, users []int64
	for rows.Next() {
		m := map[string]any{}
		if err := rows.MapScan(m); err != nil {
			rows.Close()
			return 0, 0, err
		}
		if len(users) < 50 {
			orgs, users = append(orgs, d.orgID), append(users, m["user_id"].(int64))
		}
	}
	if err := rows.Close(); err != nil {
		return 0, 0, err
	}
	var teams []struct {
		UserID    int64     `db:"user_id"`
		ID        int64     `db:"id"`
		OrgID     int64     `db:"org_id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := b.db.SelectContext(ctx, &teams, usersTeamsSQL, pq.Array(orgs), pq.Array(users)); err != nil {
		return 0, 0, err
	}
	return total, len(users), nil
}

// measureUsersConnection runs the Users tab's page at c concurrent clients
// for the configured duration through GraphQL, then the server's SQL for it
// the same way.
func (b *bench) measureUsersConnection(ctx context.Context) error {
	d := b.dash
	u := &d.users
	u.clients, u.duration = b.cfg.usersClients, b.cfg.usersDuration
	if err := b.db.GetContext(ctx, &u.members, `SELECT count(*) FROM memberships WHERE org_id = $1`, d.orgID); err != nil {
		return err
	}
	// The expected count of ACTIVE members, by the README's rule.
	expect := func() (int, error) {
		var n int
		err := b.db.GetContext(ctx, &n, `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.org_id = $1 AND u.deactivated_at IS NULL AND m.accepted_at IS NOT NULL AND m.last_active_at >= $2`,
			d.orgID, time.Now().UTC().AddDate(0, -6, 0))
		return n, err
	}
	var err error
	if u.active, err = expect(); err != nil {
		return err
	}
	check := func(p *usersPage) error {
		us := p.Organization.Users
		if us.TotalCount != u.active {
			return fmt.Errorf("MISMATCH users: totalCount %d, want %d ACTIVE members", us.TotalCount, u.active)
		}
		if len(us.Nodes) != min(50, u.active) {
			return fmt.Errorf("users: %d nodes, want %d", len(us.Nodes), min(50, u.active))
		}
		for i, n := range us.Nodes {
			if n.Status != "ACTIVE" || n.LastActiveAt == nil || n.ActiveDays < 1 || len(n.Teams) == 0 {
				return fmt.Errorf("users: node %d is not an active member with teams: %+v", i, n)
			}
			if i > 0 && n.LastActiveAt.After(*us.Nodes[i-1].LastActiveAt) {
				return fmt.Errorf("users: node %d is more recently active than node %d", i, i-1)
			}
		}
		return nil
	}
	var first usersPage
	if _, err := b.graphql(ctx, b.client, usersQuery, &first); err != nil {
		return err
	}
	if err := check(&first); err != nil {
		return err
	}
	u.pageNodes = len(first.Organization.Users.Nodes)

	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: u.clients, MaxConnsPerHost: u.clients}}
	defer client.CloseIdleConnections()
	logf("dashboard: users connection, %d clients for %s through GraphQL", u.clients, u.duration)
	u.ours, err = loadTest(ctx, u.clients, u.duration, func() error {
		var p usersPage
		if _, err := b.graphql(ctx, client, usersQuery, &p); err != nil {
			return err
		}
		return check(&p)
	})
	if err != nil {
		return fmt.Errorf("users connection: %w", err)
	}
	b.db.SetMaxIdleConns(u.clients)
	logf("dashboard: users connection, %d clients for %s through the server's SQL", u.clients, u.duration)
	u.base, err = loadTest(ctx, u.clients, u.duration, func() error {
		total, n, err := b.usersSQL(ctx)
		if err == nil && (total != u.active || n != u.pageNodes) {
			err = fmt.Errorf("MISMATCH users SQL: count %d, page %d; want %d, %d", total, n, u.active, u.pageNodes)
		}
		return err
	})
	b.db.SetMaxIdleConns(2)
	if err != nil {
		return fmt.Errorf("users SQL: %w", err)
	}
	name := fmt.Sprintf("users(first: 50, ACTIVE, LAST_ACTIVE DESC), %d clients", u.clients)
	b.rows = append(b.rows,
		row{metric: name + ": requests/s, GraphQL vs its SQL", ours: fmt.Sprintf("%.0f", u.ours.rate()), base: fmt.Sprintf("%.0f", u.base.rate()),
			ratio: fmt.Sprintf("%.2f", u.ours.rate()/u.base.rate()), target: "—", info: true},
		row{metric: name + ": p50 / p99 ms", ours: ms(u.ours.p50) + " / " + ms(u.ours.p99), base: ms(u.base.p50) + " / " + ms(u.base.p99),
			ratio: fmt.Sprintf("%.2f / %.2f", u.ours.p50.Seconds()/u.base.p50.Seconds(), u.ours.p99.Seconds()/u.base.p99.Seconds()), target: "—", info: true})
	logf("dashboard: users connection: GraphQL %.0f req/s (p50 %s, p99 %s ms), SQL %.0f req/s (p50 %s, p99 %s ms)",
		u.ours.rate(), ms(u.ours.p50), ms(u.ours.p99), u.base.rate(), ms(u.base.p50), ms(u.base.p99))
	return nil
}

// loadTest runs fn in c loops for duration and returns the throughput and
// latency percentiles; the first error stops it.
func loadTest(ctx context.Context, c int, duration time.Duration, fn func() error) (loadStats, error) {
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(duration)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var err error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err = fn(); err != nil {
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, mine...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	s := loadStats{n: len(lats), elapsed: time.Since(start)}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if err := ctx.Err(); err != nil {
		return s, err
	}
	if len(lats) == 0 {
		return s, errors.New("no request completed")
	}
	slices.Sort(lats)
	s.p50, s.p99 = percentile(lats, 0.50), percentile(lats, 0.99)
	return s, nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// checkIngestRollup compares the rollups ingest built for the default
// organization with the same rollups computed from its events by SQL
// (actors matched to members by email ignoring case; the instance admin,
// whose API requests also count as activity, left out on both sides), and
// fails naming the first differences.
func (b *bench) checkIngestRollup(ctx context.Context) error {
	const fromEvents = `SELECT m.user_id, (e.ts AT TIME ZONE 'UTC')::date AS day, max(e.ts) AS last_at
		FROM audit_events e JOIN users u ON lower(u.email) = lower(e.actor_email) AND NOT u.instance_admin
		JOIN memberships m ON m.org_id = $1 AND m.user_id = u.id
		WHERE e.org_id = $1 GROUP BY 1, 2`
	const fromRollup = `SELECT a.user_id, a.day, a.last_at FROM activity_days a JOIN users u ON u.id = a.user_id AND NOT u.instance_admin
		WHERE a.org_id = $1`
	var diffs []string
	err := b.db.SelectContext(ctx, &diffs, `WITH want AS (`+fromEvents+`), got AS (`+fromRollup+`)
		SELECT format('user %s day %s: activity_days %s, events %s', COALESCE(g.user_id, w.user_id), COALESCE(g.day, w.day),
			COALESCE(g.last_at::text, 'missing'), COALESCE(w.last_at::text, 'none'))
		FROM got g FULL JOIN want w ON g.user_id = w.user_id AND g.day = w.day
		WHERE g.last_at IS DISTINCT FROM w.last_at
		ORDER BY COALESCE(g.day, w.day), COALESCE(g.user_id, w.user_id) LIMIT 5`, b.orgID)
	if err != nil {
		return fmt.Errorf("checking ingest's rollups: %w", err)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("MISMATCH between ingest's activity_days of organization default and its events: %s", strings.Join(diffs, "; "))
	}
	var memberDiffs []string
	err = b.db.SelectContext(ctx, &memberDiffs, `WITH want AS (SELECT user_id, count(*) AS days, max(last_at) AS last_at FROM (`+fromEvents+`) x GROUP BY user_id)
		SELECT format('user %s: memberships has %s days, last %s; events say %s days, last %s', m.user_id, m.active_days,
			COALESCE(m.last_active_at::text, 'never'), COALESCE(w.days, 0), COALESCE(w.last_at::text, 'never'))
		FROM memberships m JOIN users u ON u.id = m.user_id AND NOT u.instance_admin LEFT JOIN want w ON w.user_id = m.user_id
		WHERE m.org_id = $1 AND (m.active_days <> COALESCE(w.days, 0) OR m.last_active_at IS DISTINCT FROM w.last_at)
		ORDER BY m.user_id LIMIT 5`, b.orgID)
	if err != nil {
		return fmt.Errorf("checking ingest's rollups: %w", err)
	}
	if len(memberDiffs) > 0 {
		return fmt.Errorf("MISMATCH between ingest's memberships activity of organization default and its events: %s", strings.Join(memberDiffs, "; "))
	}
	var days, members int
	if err := b.db.GetContext(ctx, &days, `SELECT count(*) FROM (`+fromRollup+`) x`, b.orgID); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &members, `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id AND NOT u.instance_admin
		WHERE m.org_id = $1 AND m.last_active_at IS NOT NULL`, b.orgID); err != nil {
		return err
	}
	b.dash.ingestCheck = fmt.Sprintf("Ingest's rollups checked: the %s member-days of `activity_days` and the `last_active_at`/`active_days` of the %d active members that HTTP ingest recorded for organization `default` equal those computed from its events by SQL (instance admin left out: its API requests count too).",
		thousands(days), members)
	logf("dashboard: ingest's rollups of default match its events (%d member-days)", days)
	return nil
}
