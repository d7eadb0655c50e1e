package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printDashboard prints the panels' detail after the main table.
func (b *bench) printDashboard(w io.Writer) {
	d := b.dash
	if d == nil || len(d.panels) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\npanel\tperiod\tdays\tanswer\tGraphQL ms\trollup SQL ms\traw SQL ms\traw/GraphQL\tGraphQL/rollup")
	panels := d.panels
	if d.mt != nil {
		panels = append(slices.Clip(panels), d.mt.panels...)
	}
	for _, r := range panels {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f×\t%.2f\n", r.panel, r.period, r.days(), r.answer,
			ms(r.gql), ms(r.rollup), ms(r.raw), r.raw.Seconds()/r.gql.Seconds(), r.gql.Seconds()/r.rollup.Seconds())
	}
	tw.Flush()
}

func (r panelResult) days() string {
	return fmt.Sprintf("%s..%s (%d)", r.from.Format("01-02"), r.to.Format("01-02"), int(r.to.Sub(r.from)/(24*time.Hour))+1)
}

// dashboardResults is the dashboard's part of the Results section: the
// panels side by side and the notes.
func (b *bench) dashboardResults() string {
	d := b.dash
	if d == nil || len(d.panels) == 0 {
		return ""
	}
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	p("### Dashboard panels side by side")
	p("")
	p("Organization `%s`: %s events (COPYed, not ingested: see 5 below), %d members. Medians of %d runs (raw SQL: %d); min–max in brackets.",
		dashOrg, thousands(d.events), b.cfg.users, b.cfg.dashRuns, b.cfg.dashRawRuns)
	p("")
	table := func(panels []panelResult) {
		p("| panel | period (days) | answer, equal on all three | GraphQL ms | rollup SQL ms | raw SQL ms | raw / GraphQL | GraphQL / rollup |")
		p("|---|---|---|---:|---:|---:|---:|---:|")
		for _, r := range panels {
			p("| %s | %s %s | %s | %s (%s–%s) | %s (%s–%s) | %s (%s–%s) | %.0f× | %.2f |", r.panel, r.period, r.days(), r.answer,
				ms(r.gql), ms(r.gqlMin), ms(r.gqlMax), ms(r.rollup), ms(r.rollMin), ms(r.rollMax), ms(r.raw), ms(r.rawMin), ms(r.rawMax),
				r.raw.Seconds()/r.gql.Seconds(), r.gql.Seconds()/r.rollup.Seconds())
		}
		p("")
	}
	p("Self-managed server, organization `%s`:", dashOrg)
	p("")
	table(d.panels)
	if mt := d.mt; mt != nil && len(mt.panels) > 0 {
		p("Multi-tenant server (a second process, `--deployment multi-tenant --activity-cutoff %s`, same database), organization `%s`: %s events, as admin `%s`:",
			mt.cutoff.Format(time.DateOnly), mtOrg, thousands(mt.events), mt.admin.user)
		p("")
		table(mt.panels)
	}
	p("- Dashboard data: %s events of organization `%s` over %d days ending %s, generator seed %d; %d members, %d of them deactivated, in %d teams (%d team memberships).",
		thousands(d.events), dashOrg, b.cfg.days, b.now.Format(time.RFC3339), b.cfg.seed+1, b.cfg.users, d.deactivated, d.teams, d.teamMembers)
	p("- Dashboard setup (not measured): %s.", strings.Join(d.setup, ", "))
	p("- Rollups built: %s member-days in `activity_days` for %d of the %d members; first day with activity %s.",
		thousands(d.memberDays), d.activeMembers, b.cfg.users, d.first.Format(time.DateOnly))
	if d.floor != "" {
		p("- %s", d.floor)
	}
	if d.ingestCheck != "" {
		p("- %s", d.ingestCheck)
	}
	if u := d.users; u.ours.n > 0 {
		p("- Users connection: %d of %d members ACTIVE (totalCount, checked on every answer); %d clients for %s on each side: GraphQL %s requests in %s, the server's SQL %s in %s.",
			u.active, u.members, u.clients, u.duration, thousands(u.ours.n), u.ours.elapsed.Round(time.Millisecond), thousands(u.base.n), u.base.elapsed.Round(time.Millisecond))
	}
	if mt := d.mt; mt != nil && len(mt.panels) > 0 {
		p("- Multi-tenant organization `%s`: the same %d members, the %s of dash's events multi-tenant collects (its %s `report:read` left out), %s; rollups from the events on or after the cut-off %s: %s member-days for %d members. Per-request floor on that server, as its admin, medians of %d: `{ viewer { username } }` %s ms; `{ organization(name:\"%s\") { activity { __typename } } }` (the organization's lookup and admin checks every panel pays) %s ms.",
			mtOrg, b.cfg.users, thousands(mt.events), thousands(d.events-mt.events), mt.setup, mt.cutoff.Format(time.DateOnly),
			thousands(mt.memberDays), mt.activeMembers, b.cfg.dashRuns, ms(mt.floor), mtOrg, ms(mt.fieldFloor))
	}
	p("")
	return s.String()
}

// dashboardExplained continues the numbered list of what each figure is.
func (b *bench) dashboardExplained() string {
	d := b.dash
	if d == nil {
		return ""
	}
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	p("6. **Dashboard panels.** The data is loaded, not ingested (%s events cannot go through HTTP ingest in the", thousands(d.events))
	p("   harness's time), into an organization of its own, `%s`: %d members who are other users than `default`'s", dashOrg, b.cfg.users)
	p("   (`dash-<name>`, `<name>@dash.example.com`, accepted long ago, one in a hundred deactivated, in %d teams), and", d.teams)
	p("   events from the same generator and action mix (seed %d, in %d independent streams) over the same %d days.", b.cfg.seed+1, dashStreams, b.cfg.days)
	p("   The events are COPYed with one `psql \\copy ... from pstdin` into `audit_events`, sorted by time, seq 1..N; then")
	p("   the rollups are built as ingest would have built them, with one `INSERT … SELECT … GROUP BY` from the events:")
	p("   a row of `activity_days` per member and UTC day with events (the day's latest event time), the actor being the")
	p("   member whose email is the event's `actor_email` ignoring case; each membership's `last_active_at` and")
	p("   `active_days` (and run/report counters) from them. `VACUUM (ANALYZE)` and a `CHECKPOINT` follow. This is setup:")
	p("   none of it is measured, and since these rollups are the harness's, not ingest's, the check below tests the")
	p("   panels' queries and period arithmetic, not ingest (the note \"Ingest's rollups checked\" covers that).")
	p("   auditgraph: `POST /graphql` (Basic admin:KEY) of `{ organization(name:\"%s\") { activity { totalActiveUsers(period: P)", dashOrg)
	p("   { period from to count } } } }`, or `usersActiveOverTime(period: P) { period from to points { date activeUsers } }`,")
	p("   for the 5 self-managed periods, on one keep-alive connection; wall time from send to end of body.")
	p("   Baseline **raw SQL**: the same answer from `audit_events` via database/sql in the harness. The period is the range")
	p("   `ts >= <first day> AND ts < <day after today>` with `org_id` (the leading columns of the (org_id, ts, seq) primary")
	p("   key, so the planner can prune partitions and choose an index or a sequential scan); ALL_TIME has no lower bound")
	p("   (2000-01-01). The distinct `actor_email` values of the range (per `(ts AT TIME ZONE 'UTC')::date` for the")
	p("   series) are found first, a hash aggregate PostgreSQL runs in parallel, then matched to the members by email")
	p("   ignoring case and counted with `count(DISTINCT user_id)`, per day for the series, which a `LEFT JOIN` to")
	p("   `generate_series` over the period's days zero-fills (ALL_TIME from the first day a member was active). Of the")
	p("   forms tried (at 1M events) this ran fastest: `count(DISTINCT user_id)` straight over the events joined to the")
	p("   members was slower, `lower()` on every event's email before the DISTINCT slower or no faster.")
	p("   Baseline **rollup SQL**: the server's own code on `activity_days`, the `storage.Store` methods the resolvers")
	p("   called before the day bitmaps (`ActiveUsersRollup`, `DailyActiveUsersRollup`: its per-day `GROUP BY` and the")
	p("   zero-filling of the days between; GraphQL now reads the day bitmaps, `activity_day_bits`, built here from")
	p("   `activity_days` with `activity_bits_rebuild`), called by the harness; the period's days are computed in the")
	p("   harness by the README's rule, and for ALL_TIME the server's `FirstActivityDay` (`min(day)`) query runs first, as")
	p("   in the server. Beyond that, each GraphQL request costs the server the API key's lookup, the organization's,")
	p("   the admin check, GraphQL parsing and validation, and JSON. The rollup SQL and the raw SQL each run on a")
	p("   connection of their own (a backend that has run the raw SQL's parallel aggregates was seen to run later")
	p("   parallel queries about twice as slowly).")
	p("   Each combination runs %d untimed rounds, then %d rounds of GraphQL then rollup SQL; the raw SQL runs after them", b.cfg.dashWarmups, b.cfg.dashRuns)
	p("   in the first %d rounds only (it takes seconds; the partitions it reads are cached by then); figures are medians.", b.cfg.dashRawRuns)
	p("   The three must agree or the run fails: the count, and for the series every day of the period with the same")
	p("   number; GraphQL's `period`, `from` and `to` must also equal the harness's own computation of the period.")
	p("   Targets: GraphQL ≥ 10× faster than the raw SQL, and at most 1.5× the rollup SQL.")
	if mt := d.mt; mt != nil {
		p("7. **Multi-tenant panels.** A second `auditgraph serve` process, started with `--deployment multi-tenant")
		p("   --activity-cutoff %s` on the same database, serves organization `%s`, made for it as multi-tenant ingest would", mt.cutoff.Format(time.DateOnly), mtOrg)
		p("   have stored it: the same members as `%s` (a user may belong to several organizations), and the events of", dashOrg)
		p("   the same day files that multi-tenant collects, decided by the server's own `ingest.Collected` (it drops")
		p("   `report:read`; the generator makes no events on public projects or outside the organization), COPYed the")
		p("   same way, seq 1..N. Its rollups are built by the same `INSERT … SELECT … GROUP BY`, counting only events on or")
		p("   after the cut-off, as multi-tenant ingest does (API requests never count as activity in multi-tenant mode).")
		p("   The cut-off lies %d days into the history, so that the longest period shows the rule. Multi-tenant has no", mtCutoffDays)
		p("   instance organization and its dashboard is the organization admin's, so the requests authenticate as `%s`,", mt.admin.user)
		p("   an admin member of `%s` with an API key of their own (Basic), not as the instance admin; the harness also", mtOrg)
		p("   checks that this server refuses the self-managed panels. `{ organization(name:\"%s\") { activity {", mtOrg)
		p("   activeUserCount(period: P) { period from to count } } } }`, `weeklyActiveUsers(period: P) { period from to points")
		p("   { date activeUsers } }` (one point per week that overlaps the period, weeks from Monday) and `mostActiveUsers(period:")
		p("   P) { period from to users { rank user { username } activeDays lastActiveAt } }` (top 10 by active days, ties by")
		p("   later last activity, then user id), for the 5 multi-tenant periods. Raw SQL: as in 6, from the later of the")
		p("   period's first day and the cut-off: distinct actor emails (per UTC week for the series; per UTC day with the")
		p("   day's latest event for the ranking) matched to members ignoring case, `count(DISTINCT user_id)` per week zero-filled")
		p("   by `generate_series` over the weeks, or per member `count(DISTINCT day)` and `max` ordered the same way.")
		p("   Rollup SQL: the server's `storage.Store` methods (`ActiveUsers`, `WeeklyActiveUsers`, `MostActiveUsers`) as in 6.")
		p("   Runs, order, connections and checks as in 6:")
		p("   the count, every week's number, and the ten users (username, rank, active days, last activity to the second)")
		p("   must agree on all three.")
	}
	p("8. **Users connection.** `{ organization(name:\"%s\") { users(first: 50, filter: {status: [ACTIVE]}, orderBy: {field:", dashOrg)
	p("   LAST_ACTIVE, direction: DESC}) { totalCount nodes { username name email role status lastActiveAt activeDays teams")
	p("   { name } } } } }` from %d concurrent clients in this process, each looping on its own keep-alive loopback", b.cfg.usersClients)
	p("   connection for %s; requests/s is completed requests over the elapsed time, p50 and p99 are of request wall", b.cfg.usersDuration)
	p("   times. Every answer is checked: totalCount equals the ACTIVE members counted by SQL with the README's rule, 50")
	p("   nodes, all ACTIVE, with teams, in descending last-active order. For comparison only (no target), the server's")
	p("   own SQL for that page — the count, the page of 51 and the page's teams, copied from `storage/orgusers.go` and")
	p("   `storage/batch.go` — from %d goroutines over database/sql for as long: the database's share of the work, without", b.cfg.usersClients)
	p("   authentication, GraphQL, dataloaders or JSON. Both sides share the machine's %s cores with the load generator.", b.env.nproc)
	p("9. **Verify.** `auditgraph verify --org default --source database` (the binary under test, run after the memory")
	p("   step) recomputes the hash chain of every event ingested in 1 and checks it against the stored hashes and")
	p("   checkpoints; it must find the log intact. Baseline (no target): psql `\\copy` of the columns the chain covers,")
	p("   with `seq` and `hash`, of the same organization's rows ordered by `seq`, to stdout, discarded: reading the rows")
	p("   in the order a verification must walk them, with no hashing.")
	return s.String()
}
