package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the results table.
type row struct {
	metric, ours, base, ratio, target string
	pass                              bool
	info                              bool // informational: no target
}

func (r row) verdict() string {
	if r.info {
		return "info"
	}
	if r.pass {
		return "pass"
	}
	return "FAIL"
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nmetric\tauditgraph\tbaseline\tratio\ttarget\tresult")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.metric, r.ours, r.base, r.ratio, r.target, r.verdict())
	}
	tw.Flush()
}

// environment is the machine and software the figures were taken on.
type environment struct {
	nproc     string
	cpu       string
	memory    string
	goVersion string
	postgres  string
	psql      string
	settings  string // the PostgreSQL settings that bear on the figures
}

func (e *environment) fill() {
	e.nproc = strconv.Itoa(runtime.NumCPU())
	if out, err := exec.Command("nproc").Output(); err == nil {
		e.nproc = strings.TrimSpace(string(out))
	}
	e.cpu = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		e.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	e.goVersion = runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if out, err := exec.Command("psql", "--version").Output(); err == nil {
		e.psql = strings.TrimSpace(string(out))
	}
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// markdown renders the results file.
func (b *bench) markdown(wall time.Duration) string {
	var s strings.Builder
	e := b.env
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	p("# auditgraph benchmark results")
	p("")
	p("Produced by `make bench` (`go run ./tools/withpg go run ./bench`); every run overwrites this file.")
	p("Each auditgraph figure is measured in the same run, on the same PostgreSQL, table, indexes and rows, as its baseline.")
	p("")
	p("- Date: %s", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("- Machine: nproc = %s (%s), %s RAM; shared and noisy: absolute figures moved by up to 2x between runs here, so compare the ratios, whose two sides ran in the same minutes", e.nproc, e.cpu, e.memory)
	p("- Go: %s", e.goVersion)
	p("- PostgreSQL: %s; client %s", e.postgres, e.psql)
	p("- PostgreSQL settings (the throwaway cluster of tools/withpg): %s", e.settings)
	p("- Data: %s events for each side, %d members, %d days of history ending %s, seed %d; NDJSON %s, CSV %s",
		thousands(len(b.events)), b.cfg.users, b.cfg.days, b.now.Format(time.RFC3339), b.cfg.seed, mib(b.ndjsonSize), mib(b.csvSize))
	p("- Harness wall time: %s; 1-minute load average %s at the start, %s at the end", wall.Round(time.Second), b.loadStart, loadAverage())
	p("")
	p("## Results")
	p("")
	p("| metric | auditgraph | baseline | ratio | target | result |")
	p("|---|---:|---:|---:|---|---|")
	for _, r := range b.rows {
		p("| %s | %s | %s | %s | %s | %s |", r.metric, r.ours, r.base, r.ratio, r.target, r.verdict())
	}
	p("")
	for _, n := range b.notes {
		p("- %s", n)
	}
	p("")
	s.WriteString(b.dashboardResults())
	p("CPU times are those of the whole PostgreSQL cluster, the auditgraph server process and the client (this harness,")
	p("or psql) during the measured run, read from /proc: they show which process did the work. On a shared virtual")
	p("machine they too grow when the host is busy, though less than wall times.")
	p("")
	p("## What each figure and baseline is")
	p("")
	p("The data: generated deterministically (math/rand/v2, fixed seed) as a busy ML organization's platform would report it:")
	p("mostly `run:update`, `artifact:read`/`artifact:create`, `project:read`, `user:login`, some `report:read`,")
	p("`sweep:create_agent`, `run:stop`, rare team and user administration; weekday and office-hour skew for people's")
	p("actions, round the clock for training jobs; a Zipf-distributed activity per member; response codes mostly 200")
	p("with some 401/403/404/500; every event with a client `id`. The %d members (a tenth of whom never act) are inserted", b.cfg.users)
	p("with SQL into `users` and `memberships` of organization `default` before ingest, so that ingest matches actors to")
	p("members (activity capture).")
	p("The harness creates the monthly partitions the history needs (`audit_events_ensure_partition`) before either side")
	p("loads anything: psql's COPY cannot create them, and neither side's timing includes creating them.")
	p("")
	p("1. **Ingest.** auditgraph: `POST /api/v1/audit_events` (Basic admin:KEY), %d-event NDJSON bodies rendered", b.cfg.batch)
	p("   before timing, sent one after another on one keep-alive connection; the figure is events / the sum of request")
	p("   wall times (send to end of reply). It stores the events with their sequence numbers, records every client id")
	p("   for idempotency (`audit_event_ids`) and updates the members' activity (`activity_days`, `memberships`).")
	p("   Baseline: one `psql -c \"\\copy audit_events(%s) from '<file>' with (format csv)\"` of the same rows", csvColumns())
	p("   (same column values, for a second organization `bench-baseline`, seq 1..N) into the same partitioned table with")
	p("   the same indexes, timed as a whole command (process start to exit). It writes only `audit_events`: no idempotency")
	p("   keys, no activity. The baseline loads first, so auditgraph appends to a table already holding the baseline's rows;")
	p("   `VACUUM (ANALYZE)` follows the baseline's load, so that autovacuum does not work on its rows while auditgraph is")
	p("   timed, and a `CHECKPOINT` precedes each side.")
	p("2. **Fetch.** auditgraph: `GET /admin/audit_logs?startDate=<today>&numDays=%d` (plain, then with `anonymize=true`),", b.cfg.days)
	p("   no gzip, reading the whole NDJSON body and counting its lines (which must equal the organization's events).")
	p("   Baseline: `psql -c \"\\copy (select row_to_json(t) from (select <the 19 documented columns, ts as timestamp>")
	p("   from audit_events where org_id=<default> and ts >= <start> and ts < <end> order by ts, seq) t) to stdout\"` with")
	p("   stdout discarded; anonymized, without the 7 PII columns. row_to_json keeps null keys and PostgreSQL's timestamp")
	p("   format, where auditgraph leaves out keys without a value and writes RFC3339 `Z` times. The two sides run")
	p("   alternately, twice each unless -fetch-runs says otherwise, and each keeps its best time; `VACUUM (ANALYZE) audit_events` runs once before.")
	p("3. **Memory.** The server's peak RSS (VmHWM in /proc/<pid>/status) after a fresh server process streamed a")
	p("   window of about a tenth of the events (the baseline column), and after another fresh process streamed the whole")
	p("   history (the auditgraph column), both as in 2. The target is on the difference: streaming must not grow with")
	p("   the window.")
	p("4. **Pagination.** `GET /admin/audit_logs?startDate=<%d days ago>&endDate=<tomorrow>&limit=100`, following", b.cfg.days)
	p("   `next_cursor` to page 10,000 (the last full page when there are fewer), then page 1 (the baseline column) and")
	p("   that page (the auditgraph column) requested alternately %d times each; the figures are medians of whole-request", b.cfg.pageRuns)
	p("   wall times. Keyset pagination should make a deep page cost what the first one does.")
	p("5. **Ingest memory.** The server's peak RSS (VmHWM) after a fresh server process stored one maximum-size batch")
	p("   (the baseline column: %s lines of %d bytes, 256 MiB of NDJSON, the most both limits allow, sent gzipped with", thousands(burstLines), burstLineLen)
	p("   its Content-Length to an organization of its own, `%s`), and after another fresh process was sent %d such", burstOrg, burstClients)
	p("   batches at once by %d clients (the auditgraph column). The server bounds the decompressed bytes of the batches", burstClients)
	p("   in flight (`--ingest-memory`, default 256 MiB, one such batch); a batch that finds no room within 5 s gets 503")
	p("   with Retry-After and stores nothing. The target: %d at once cost less than twice what one does.", burstClients)
	s.WriteString(b.dashboardExplained())
	return s.String()
}
