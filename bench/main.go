// Command bench measures auditgraph against plain PostgreSQL baselines on
// one throwaway PostgreSQL server, each figure side by side with its
// baseline measured in the same run:
//
//	go run ./tools/withpg go run ./bench [-quick] [-events N] [-users N] [-days N] [-dash-events N]
//
// (that is `make bench`). It needs AUDITGRAPH_TEST_DATABASE_URL, which
// withpg sets, psql on PATH, and must run from the module root. It creates a
// database of its own, builds and starts `auditgraph serve` against it (and
// for the multi-tenant dashboard panels a second one in multi-tenant mode),
// loads generated events through the API and through psql, prints a table
// and writes it to bench/RESULTS.md. The servers and the database are
// removed at the end, also on failure. Speed goals live here, never in tests.
//
// The postgraphile section (postgraphile.go) also installs PostGraphile and
// a Node 22 from npm (bench/postgraphile, pinned by its package-lock.json)
// into a cache directory and runs it on the same database; the search
// section (search.go) measures audit-event search on a big organization.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// config holds the flags.
type config struct {
	events    int
	users     int
	days      int
	batch     int
	seed      uint64
	quick     bool
	pageRuns  int
	fetchRuns int
	out       string

	// The dashboard section (dashboard.go).
	dashEvents    int
	dashRuns      int
	dashRawRuns   int
	dashWarmups   int
	usersClients  int
	usersDuration time.Duration

	// The small-batch section (small.go).
	smallClients  int
	smallDuration time.Duration

	// The postgraphile section (postgraphile.go).
	pgCache    string
	pgClients  int
	pgRounds   int
	pgDuration time.Duration

	// The search section (search.go).
	searchEvents    int
	searchRuns      int
	searchDayEvents int
	searchClients   int
	searchDuration  time.Duration

	// The activity scale section (activityscale.go).
	scaleMembers  int
	scaleDays     int
	scaleRuns     int
	scaleBaseRuns int
	scalePanels   string
	// sections, when not empty, names the only steps to run.
	sections map[string]bool
}

func main() {
	if addr := os.Getenv(floorEnv); addr != "" {
		if err := serveFloor(addr); err != nil {
			fmt.Fprintln(os.Stderr, "bench: HTTP floor:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.events, "events", 1_000_000, "events to ingest (and the baseline loads as many)")
	fs.IntVar(&cfg.users, "users", 2000, "members of the organization")
	fs.IntVar(&cfg.days, "days", 365, "days of history the events span, ending now")
	fs.IntVar(&cfg.batch, "batch", 10_000, "events per ingest request")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the generated data")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: 100,000 events unless -events is given; writes no results file unless -out is given")
	fs.IntVar(&cfg.pageRuns, "page-runs", 30, "timed requests of each of the two pagination pages")
	fs.IntVar(&cfg.fetchRuns, "fetch-runs", 2, "runs of each fetch; the best counts")
	fs.StringVar(&cfg.out, "out", "bench/RESULTS.md", "Markdown results file (\"\" for none)")
	fs.IntVar(&cfg.dashEvents, "dash-events", 10_000_000, "events COPYed into the dashboard's organization (0 skips the dashboard; -quick: 1,000,000)")
	fs.IntVar(&cfg.dashRuns, "dash-runs", 15, "timed runs of each panel through GraphQL and the rollup SQL")
	fs.IntVar(&cfg.dashRawRuns, "dash-raw-runs", 3, "timed runs of each panel's raw SQL on audit_events")
	fs.IntVar(&cfg.dashWarmups, "dash-warmups", 2, "untimed runs before them (none of the raw SQL)")
	fs.IntVar(&cfg.usersClients, "users-clients", 16, "concurrent clients of the users connection")
	fs.DurationVar(&cfg.usersDuration, "users-duration", 15*time.Second, "how long the users connection runs, on each side")
	fs.IntVar(&cfg.smallClients, "small-clients", 32, "concurrent clients of the small-batch section (and pgbench's)")
	fs.DurationVar(&cfg.smallDuration, "small-duration", 30*time.Second, "how long each small-batch run lasts (-quick: 5s)")
	fs.StringVar(&cfg.pgCache, "pg-cache", "", "where PostGraphile and its Node are installed (default: the user cache directory's auditgraph-bench)")
	fs.IntVar(&cfg.pgClients, "pg-clients", 16, "concurrent clients of the postgraphile section")
	fs.IntVar(&cfg.pgRounds, "pg-rounds", 3, "alternating rounds of each side in the postgraphile section")
	fs.DurationVar(&cfg.pgDuration, "pg-duration", 30*time.Second, "how long each side runs per round in the postgraphile section (-quick: 5s)")
	fs.IntVar(&cfg.searchEvents, "search-events", 0, "events of the search section's organization when the dashboard section has not loaded one (default -dash-events)")
	fs.IntVar(&cfg.searchRuns, "search-runs", 15, "timed runs of each search case and page")
	fs.IntVar(&cfg.searchDayEvents, "search-day-events", 1_500_000, "events in the current day for the search section's 64-client dashboard query (0 skips it; -quick: 150,000)")
	fs.IntVar(&cfg.searchClients, "search-clients", 64, "concurrent clients of the search section's dashboard query")
	fs.DurationVar(&cfg.searchDuration, "search-duration", 20*time.Second, "how long each side of the search section's dashboard query runs (-quick: 5s)")
	fs.IntVar(&cfg.scaleMembers, "scale-members", 100_000, "members of the activity scale section's big organization (its small one has -users)")
	fs.IntVar(&cfg.scaleDays, "scale-days", 365, "days of activity of the activity scale section's organizations, ending today")
	fs.IntVar(&cfg.scaleRuns, "scale-runs", 15, "timed runs of each panel through GraphQL and the storage query in the activity scale section")
	fs.IntVar(&cfg.scaleBaseRuns, "scale-base-runs", 3, "timed runs of each panel's activity_days query (the baseline) in the activity scale section")
	fs.StringVar(&cfg.scalePanels, "scale-panels", "", "comma-separated panels the activity scale section measures (all when empty)")
	var sections string
	fs.StringVar(&sections, "sections", "", "comma-separated steps to run (ingest, fetch, pagination, memory, ingest memory, verify, dashboard, small batches, postgraphile, search, replica, activity scale); all when empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if cfg.quick {
		if !given["events"] {
			cfg.events = 100_000
		}
		if !given["out"] {
			cfg.out = ""
		}
		if !given["dash-events"] {
			cfg.dashEvents = 1_000_000
		}
		if !given["small-duration"] {
			cfg.smallDuration = 5 * time.Second
		}
		if !given["pg-duration"] {
			cfg.pgDuration = 5 * time.Second
		}
		if !given["search-day-events"] {
			cfg.searchDayEvents = 150_000
		}
		if !given["search-duration"] {
			cfg.searchDuration = 5 * time.Second
		}
	}
	if sections != "" {
		cfg.sections = map[string]bool{}
		for _, s := range strings.Split(sections, ",") {
			cfg.sections[strings.TrimSpace(s)] = true
		}
	}
	if cfg.events < cfg.batch || cfg.users < 1 || cfg.days < 2 || cfg.batch < 1 || cfg.pageRuns < 1 || cfg.fetchRuns < 1 {
		return errors.New("want -events >= -batch >= 1, -users >= 1, -days >= 2, -page-runs >= 1, -fetch-runs >= 1")
	}
	if cfg.dashEvents < 0 || cfg.dashRuns < 1 || cfg.dashRawRuns < 1 || cfg.dashRawRuns > cfg.dashRuns || cfg.dashWarmups < 1 || cfg.usersClients < 1 || cfg.usersDuration <= 0 {
		return errors.New("want -dash-events >= 0, -dash-runs >= -dash-raw-runs >= 1, -dash-warmups >= 1, -users-clients >= 1, -users-duration > 0")
	}
	if cfg.smallClients < 1 || cfg.smallDuration < time.Second {
		return errors.New("want -small-clients >= 1, -small-duration >= 1s")
	}
	if cfg.pgClients < 1 || cfg.pgRounds < 1 || cfg.pgDuration < time.Second {
		return errors.New("want -pg-clients >= 1, -pg-rounds >= 1, -pg-duration >= 1s")
	}
	if cfg.searchEvents < 0 || cfg.searchRuns < 1 || cfg.searchDayEvents < 0 || cfg.searchClients < 1 || cfg.searchDuration < time.Second {
		return errors.New("want -search-events >= 0, -search-runs >= 1, -search-day-events >= 0, -search-clients >= 1, -search-duration >= 1s")
	}
	if cfg.scaleMembers < 1 || cfg.scaleDays < 2 || cfg.scaleRuns < 1 || cfg.scaleBaseRuns < 1 || cfg.scaleBaseRuns > cfg.scaleRuns {
		return errors.New("want -scale-members >= 1, -scale-days >= 2, -scale-runs >= -scale-base-runs >= 1")
	}
	base := os.Getenv("AUDITGRAPH_TEST_DATABASE_URL")
	if base == "" {
		return errors.New("AUDITGRAPH_TEST_DATABASE_URL is not set: run it as `go run ./tools/withpg go run ./bench` (make bench)")
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the module root (go.mod not found)")
	}
	b := &bench{cfg: cfg, started: time.Now(), baseURL: base}
	defer b.cleanup()
	return b.run(ctx)
}

// bench is one run of the harness.
type bench struct {
	cfg     config
	started time.Time
	baseURL string // the withpg server's postgres database
	dbName  string
	dbURL   string
	db      *sqlx.DB
	tmp     string
	bin     string
	key     string
	srv     *server
	mtSrv   *server // the multi-tenant server of the dashboard section, while it runs
	client  *http.Client
	// postmaster is the PostgreSQL server's pid, for CPU accounting.
	postmaster int
	loadStart  string // 1-minute load average when the run began

	now, today          time.Time
	orgID, baseOrgID    int64
	events              []event
	bodies              [][]byte
	csvPath             string
	ndjsonSize, csvSize int64
	smallDays           int
	env                 environment
	rows                []row
	notes               []string
	dash                *dashboard
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context) error {
	var err error
	b.loadStart = loadAverage()
	if b.tmp, err = os.MkdirTemp("", "auditgraph-bench-"); err != nil {
		return err
	}
	logf("building the server")
	if b.bin, err = buildServer(ctx, b.tmp); err != nil {
		return err
	}
	if err := b.createDatabase(ctx); err != nil {
		return err
	}
	key := make([]byte, 20)
	rand.Read(key)
	b.key = hex.EncodeToString(key)
	b.client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	logf("starting the server on database %s", b.dbName)
	if b.srv, err = startServer(ctx, b.bin, b.dbURL, b.key); err != nil {
		return err
	}
	if b.db, err = sqlx.Open("postgres", b.dbURL); err != nil {
		return err
	}
	if err := b.findPostmaster(ctx); err != nil {
		return err
	}
	if err := b.describeEnvironment(ctx); err != nil {
		return err
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ingest", b.measureIngest},
		{"fetch", b.measureFetch},
		{"pagination", b.measurePagination},
		{"memory", b.measureMemory},
		{"ingest memory", b.measureIngestMemory},
		{"verify", b.measureVerify},
		{"dashboard", b.measureDashboard},
		{"small batches", b.measureSmallBatches},
		{"postgraphile", b.measurePostGraphile},
		{"search", b.measureSearch},
		{"replica", b.measureReplica},
		{"activity scale", b.measureActivityScale},
	}
	for _, s := range steps {
		if b.cfg.sections != nil && !b.cfg.sections[s.name] {
			continue
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	wall := time.Since(b.started)
	printTable(os.Stdout, b.rows)
	b.printDashboard(os.Stdout)
	fmt.Printf("\nharness wall time: %s\n", wall.Round(time.Second))
	if b.cfg.out != "" {
		if err := os.WriteFile(b.cfg.out, []byte(b.markdown(wall)), 0o644); err != nil {
			return err
		}
		logf("wrote %s", b.cfg.out)
	}
	return nil
}

// createDatabase creates bench_<random> on the withpg server.
func (b *bench) createDatabase(ctx context.Context) error {
	u, err := url.Parse(b.baseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("AUDITGRAPH_TEST_DATABASE_URL must be a postgres:// URL")
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	b.dbName = "bench_" + hex.EncodeToString(suffix)
	u.Path = "/" + b.dbName
	u.RawPath = ""
	b.dbURL = u.String()
	admin, err := sqlx.Open("postgres", b.baseURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(b.dbName)); err != nil {
		b.dbName = ""
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// cleanup stops the server, drops the database and removes the temporary
// files; it runs whatever happened before.
func (b *bench) cleanup() {
	b.srv.stop()
	b.mtSrv.stop()
	if b.db != nil {
		b.db.Close()
	}
	if b.dbName != "" {
		if admin, err := sqlx.Open("postgres", b.baseURL); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(b.dbName)+` WITH (FORCE)`); err != nil {
				logf("dropping database %s: %v", b.dbName, err)
			}
			cancel()
			admin.Close()
		}
	}
	if b.tmp != "" {
		os.RemoveAll(b.tmp)
	}
}

// prepare creates the partitions, the members and the baseline's
// organization, and generates and renders the events.
func (b *bench) prepare(ctx context.Context) error {
	b.now = time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	y, m, d := b.now.Date()
	b.today = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if err := b.db.GetContext(ctx, &b.orgID, `SELECT id FROM organizations WHERE name = 'default'`); err != nil {
		return fmt.Errorf("the server's organization: %w", err)
	}
	gen := newGenerator(b.cfg.seed, b.cfg.users, b.cfg.days, b.now)

	// psql's COPY cannot create partitions, so the history's months are
	// created before either side loads; both load into the same ones.
	for mo := monthOf(gen.first); !mo.After(b.now); mo = mo.AddDate(0, 1, 0) {
		if _, err := b.db.ExecContext(ctx, `SELECT audit_events_ensure_partition($1)`, mo); err != nil {
			return fmt.Errorf("partition %s: %w", mo.Format("2006-01"), err)
		}
	}
	if err := b.insertMembers(ctx, gen); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &b.baseOrgID, `INSERT INTO organizations (name, plan) VALUES ('bench-baseline', 'enterprise') RETURNING id`); err != nil {
		return fmt.Errorf("baseline organization: %w", err)
	}

	logf("generating %d events over %d days for %d users", b.cfg.events, b.cfg.days, b.cfg.users)
	b.events = gen.events(b.cfg.events)
	b.smallDays = daysHolding(b.events, b.today, b.cfg.events/10)

	logf("rendering %d NDJSON bodies and the CSV file", (len(b.events)+b.cfg.batch-1)/b.cfg.batch)
	for i := 0; i < len(b.events); i += b.cfg.batch {
		var body []byte
		for j := i; j < min(i+b.cfg.batch, len(b.events)); j++ {
			body = appendNDJSON(body, &b.events[j])
		}
		b.bodies = append(b.bodies, body)
		b.ndjsonSize += int64(len(body))
	}
	b.csvPath = b.tmp + "/baseline.csv"
	f, err := os.Create(b.csvPath)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range b.events {
		buf = appendCSV(buf, &b.events[i], b.baseOrgID, int64(i+1))
		if len(buf) > 1<<20 {
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return err
			}
			b.csvSize += int64(len(buf))
			buf = buf[:0]
		}
	}
	_, err = f.Write(buf)
	b.csvSize += int64(len(buf))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func monthOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// insertMembers inserts the generated users and their memberships of the
// server's organization directly, as if they had been invited long ago.
func (b *bench) insertMembers(ctx context.Context, g *generator) error {
	var names, fullNames, emails, roles, seats []string
	var added []time.Time
	for _, m := range g.members {
		names, fullNames, emails, roles = append(names, m.username), append(fullNames, m.name), append(emails, m.email), append(roles, m.role)
		seat := "full"
		if m.role == "viewer" {
			seat = "viewer"
		}
		seats = append(seats, seat)
		added = append(added, m.added)
	}
	tx, err := b.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `INSERT INTO users (username, name, email, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) RETURNING id, username`,
		pq.Array(names), pq.Array(fullNames), pq.Array(emails), pq.Array(added))
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
	_, err = tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, added_at, accepted_at)
		SELECT $1, u, r, s, 'full', a, a FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[]) AS x(u, r, s, a)`,
		b.orgID, pq.Array(userIDs), pq.Array(roles), pq.Array(seats), pq.Array(added))
	if err != nil {
		return fmt.Errorf("insert memberships: %w", err)
	}
	return tx.Commit()
}

// describeEnvironment records the machine and software versions.
func (b *bench) describeEnvironment(ctx context.Context) error {
	e := &b.env
	if err := b.db.GetContext(ctx, &e.postgres, `SELECT version()`); err != nil {
		return err
	}
	var settings []string
	for _, name := range []string{"shared_buffers", "work_mem", "fsync", "synchronous_commit", "full_page_writes", "max_wal_size"} {
		var v string
		if err := b.db.GetContext(ctx, &v, `SELECT current_setting($1)`, name); err != nil {
			return err
		}
		settings = append(settings, name+"="+v)
	}
	e.settings = strings.Join(settings, ", ")
	e.fill()
	return nil
}
