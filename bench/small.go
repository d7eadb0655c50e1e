package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// measureSmallBatches measures ingest as the platform sends it: clients
// posting 1-event batches at once, to one organization and to eight, each
// for -small-duration, beside pgbench inserting one row per transaction
// into audit_events with as many clients for as long. Both sides run with
// synchronous_commit=on (set on the database, the server restarted to pick
// it up); what a commit waits for then depends on the cluster's fsync,
// stated with the run's settings.
func (b *bench) measureSmallBatches(ctx context.Context) error {
	if _, err := b.db.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(b.dbName)+` SET synchronous_commit = on`); err != nil {
		return err
	}
	defer b.db.ExecContext(context.WithoutCancel(ctx), `ALTER DATABASE `+pq.QuoteIdentifier(b.dbName)+` RESET synchronous_commit`)
	// The server's pooled connections were opened before: restart it.
	b.srv.stop()
	var err error
	if b.srv, err = startServer(ctx, b.bin, b.dbURL, b.key); err != nil {
		return err
	}
	var orgs []string
	for i := range 8 {
		name := fmt.Sprintf("bench-small-%d", i)
		if _, err := b.db.ExecContext(ctx, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise')`, name); err != nil {
			return err
		}
		orgs = append(orgs, name)
	}
	clients, dur := b.cfg.smallClients, b.cfg.smallDuration
	var oneOrg smallResult

	if err := b.settle(ctx); err != nil {
		return err
	}
	logf("baseline: pgbench, %d clients, one-row INSERT per transaction, %s", clients, dur)
	base, err := b.pgbenchInsert(ctx, clients, dur)
	if err != nil {
		return err
	}
	logf("baseline: %.0f rows/s, p50 %s ms, p99 %s ms", base.rate, ms(base.p50), ms(base.p99))
	for _, n := range []int{1, 8} {
		if err := b.settle(ctx); err != nil {
			return err
		}
		logf("auditgraph: %d clients × 1-event batches to %d organization(s), %s", clients, n, dur)
		ours, err := b.postSmall(ctx, b.srv.url, orgs[:n], clients, 1, dur)
		if err != nil {
			return err
		}
		logf("auditgraph: %.0f events/s (%.3f of the baseline), p50 %s ms, p99 %s ms", ours.rate, ours.rate/base.rate, ms(ours.p50), ms(ours.p99))
		if n == 1 {
			oneOrg = ours
		}
		what := fmt.Sprintf("small batches (%d clients × 1 event, %d org", clients, n)
		if n > 1 {
			what += "s"
		}
		target, pass := "≥ 1.00", ours.rate/base.rate >= 1
		if n > 1 {
			target, pass = "", false
		}
		b.rows = append(b.rows, row{
			metric: what + "), events/s",
			ours:   fmt.Sprintf("%.0f", ours.rate), base: fmt.Sprintf("%.0f", base.rate),
			ratio: fmt.Sprintf("%.3f", ours.rate/base.rate), target: target, pass: pass, info: n > 1,
		}, row{
			metric: what + "), p50 / p99 ms",
			ours:   ms(ours.p50) + " / " + ms(ours.p99), base: ms(base.p50) + " / " + ms(base.p99),
			target: "p99 < 100", pass: ours.p99 < 100*time.Millisecond, info: n > 1,
		})
	}
	// Mid batches: as many clients sending 100-event batches, beside one
	// psql \copy of as many rows of the same shape.
	if err := b.settle(ctx); err != nil {
		return err
	}
	logf("auditgraph: %d clients × %d-event batches to 1 organization, %s", clients, midLines, dur)
	mid, err := b.postSmall(ctx, b.srv.url, orgs[:1], clients, midLines, dur)
	if err != nil {
		return err
	}
	copied, err := b.copyRows(ctx, mid.events)
	if err != nil {
		return err
	}
	logf("auditgraph: %.0f events/s, p50 %s ms, p99 %s ms; \\copy of %d rows: %.0f rows/s (%.3f)", mid.rate, ms(mid.p50), ms(mid.p99), mid.events, copied, mid.rate/copied)
	midWhat := fmt.Sprintf("mid batches (%d clients × %d events, 1 org)", clients, midLines)
	b.rows = append(b.rows, row{
		metric: midWhat + ", events/s (baseline: \\copy of as many rows)",
		ours:   fmt.Sprintf("%.0f", mid.rate), base: fmt.Sprintf("%.0f", copied),
		ratio: fmt.Sprintf("%.3f", mid.rate/copied), info: true,
	}, row{
		metric: midWhat + ", p50 / p99 ms of a batch",
		ours:   ms(mid.p50) + " / " + ms(mid.p99), info: true,
	})

	// The HTTP floor: the same clients and requests against a process that
	// only reads each body and answers it (floor.go), what HTTP alone
	// allows on this machine.
	floor, err := startFloor(ctx)
	if err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		floor.stop()
		return err
	}
	logf("HTTP floor: %d clients × 1-event POSTs answered without any work, %s", clients, dur)
	before, _ := procStat(floor.cmd.Process.Pid)
	fl, err := b.postSmall(ctx, floor.url, orgs[:1], clients, 1, dur)
	if after, serr := procStat(floor.cmd.Process.Pid); serr == nil && before != nil {
		// postSmall counted the auditgraph server's (idle) CPU as the
		// server's: the floor's process is the server of this run.
		fl.server = ticks(after, 14, 15) - ticks(before, 14, 15)
	}
	floor.stop()
	if err != nil {
		return err
	}
	logf("HTTP floor: %.0f requests/s (%.3f of the baseline), p50 %s ms, p99 %s ms", fl.rate, fl.rate/base.rate, ms(fl.p50), ms(fl.p99))
	b.rows = append(b.rows, row{
		metric: fmt.Sprintf("small batches: HTTP floor (%d clients × 1-event POSTs answered with no server work), requests/s", clients),
		ours:   fmt.Sprintf("%.0f", fl.rate), base: fmt.Sprintf("%.0f", base.rate),
		ratio: fmt.Sprintf("%.3f", fl.rate/base.rate), info: true,
	}, row{
		metric: "small batches: auditgraph (1 org) against the HTTP floor, requests/s",
		ours:   fmt.Sprintf("%.0f", oneOrg.rate), base: fmt.Sprintf("%.0f", fl.rate),
		ratio: fmt.Sprintf("%.3f", oneOrg.rate/fl.rate), info: true,
	})
	cpuNote := func(name string, r smallResult) string {
		pg, srv, cl, all := r.perEvent()
		return fmt.Sprintf("%s %.0f µs (PostgreSQL %.0f, server %.0f, clients %.0f)", name, all, pg, srv, cl)
	}
	note := "Small batches, CPU per event (per request for the HTTP floor) from /proc, the whole cluster for PostgreSQL, this process for auditgraph's clients: " +
		cpuNote("pgbench", base) + "; " + cpuNote("auditgraph, 1 organization", oneOrg) + "; " + cpuNote("HTTP floor", fl) + "."
	if _, _, _, all := oneOrg.perEvent(); all > 0 {
		note += fmt.Sprintf(" On %d cores, auditgraph's %.0f µs per event allow at most %.0f events/s.", runtime.NumCPU(), all, float64(runtime.NumCPU())*1e6/all)
	}
	b.notes = append(b.notes, note)
	b.notes = append(b.notes, fmt.Sprintf("Small batches: synchronous_commit=on on both sides for this section (the run's other settings above; with fsync=off a commit waits for the WAL write, not a disk flush). Baseline: pgbench -M prepared, %d clients, one INSERT of a row into audit_events per transaction, %s. auditgraph: %d clients each POSTing 1-event NDJSON batches with a client id, back to back, %s; the server groups concurrent batches of one organization into one transaction (group commit).", clients, dur, clients, dur))
	return nil
}

// midLines is the size of the mid-batch section's batches.
const midLines = 100

type smallResult struct {
	rate     float64
	p50, p99 time.Duration
	// events is how many the run stored (or requests answered); pg,
	// server and clients are the CPU the cluster, the server (pgbench's
	// runs: none) and the clients (this process, or pgbench) spent on it.
	events              int
	pg, server, clients time.Duration
}

// perEvent is the run's CPU per event, in µs, of each side and in all.
func (r smallResult) perEvent() (pg, server, clients, all float64) {
	if r.events == 0 {
		return
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.events) }
	return us(r.pg), us(r.server), us(r.clients), us(r.pg + r.server + r.clients)
}

func percentiles(lat []time.Duration, n int, d time.Duration) smallResult {
	slices.Sort(lat)
	r := smallResult{rate: float64(n) / d.Seconds(), events: n}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

// postSmall runs clients posting 1-event batches, spread over orgs, for d.
// base is the server's URL (the HTTP floor's for that measurement); each
// request carries lines events.
func (b *bench) postSmall(ctx context.Context, base string, orgs []string, clients, lines int, d time.Duration) (smallResult, error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		stored int
		first  error
		wg     sync.WaitGroup
	)
	c0 := b.cpuNow()
	start := time.Now()
	deadline := start.Add(d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			org := orgs[c%len(orgs)]
			var mine []time.Duration
			n := 0
			var err error
			for i := 0; time.Now().Before(deadline) && err == nil; i++ {
				var body strings.Builder
				for j := range lines {
					fmt.Fprintf(&body, `{"id":"s%d-%d-%d-%d-%d","action":"run:update","actor_email":"user%d@example.com","project_name":"p%d"}`+"\n",
						len(orgs), lines, c, i, j, (i*lines+j)%b.cfg.users, c)
				}
				req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/audit_events?org="+org, strings.NewReader(body.String()))
				if rerr != nil {
					err = rerr
					break
				}
				req.SetBasicAuth("admin", b.key)
				req.Header.Set("Content-Type", "application/x-ndjson")
				t0 := time.Now()
				resp, derr := client.Do(req)
				if derr != nil {
					err = derr
					break
				}
				reply, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				var res struct{ Stored int }
				if resp.StatusCode != http.StatusOK || json.Unmarshal(reply, &res) != nil || res.Stored != lines {
					err = fmt.Errorf("%s: %s", resp.Status, reply)
				}
				n += lines
			}
			mu.Lock()
			lat = append(lat, mine...)
			stored += n
			if first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return smallResult{}, first
	}
	r := percentiles(lat, stored, time.Since(start))
	cpu := b.cpuNow().sub(c0)
	r.pg, r.server, r.clients = cpu.pg, cpu.server, cpu.self
	return r, nil
}

// pgbenchInsert runs pgbench inserting one audit_events row per transaction
// into the baseline's organization, with per-transaction latency logs.
func (b *bench) pgbenchInsert(ctx context.Context, clients int, d time.Duration) (smallResult, error) {
	if _, err := b.db.ExecContext(ctx, `DROP SEQUENCE IF EXISTS bench_small_seq; CREATE SEQUENCE bench_small_seq START 100000000000`); err != nil {
		return smallResult{}, err
	}
	dir := filepath.Join(b.tmp, "pgbench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return smallResult{}, err
	}
	// pgbench reads ":name" as a variable, hence chr(58) for the action's colon.
	script := fmt.Sprintf(`INSERT INTO audit_events (org_id, seq, ts, action, actor_email, project_name, hash) VALUES (%d, nextval('bench_small_seq'), now(), 'run' || chr(58) || 'update', 'user1@example.com', 'p1', '\x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');`+"\n", b.baseOrgID)
	scriptPath := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return smallResult{}, err
	}
	secs := strconv.Itoa(max(1, int(d.Seconds())))
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", secs,
		"-l", "--log-prefix", filepath.Join(dir, "log"), "-f", scriptPath, b.dbURL)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c synchronous_commit=on")
	c0 := b.cpuNow()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return smallResult{}, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	pgCPU := b.cpuNow().sub(c0).pg
	var lat []time.Duration
	logs, _ := filepath.Glob(filepath.Join(dir, "log*"))
	for _, p := range logs {
		f, err := os.Open(p)
		if err != nil {
			return smallResult{}, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// client_id transaction_no time_us script_no time_epoch time_us
			if fs := strings.Fields(sc.Text()); len(fs) >= 3 {
				if us, err := strconv.ParseInt(fs[2], 10, 64); err == nil {
					lat = append(lat, time.Duration(us)*time.Microsecond)
				}
			}
		}
		f.Close()
	}
	var tps float64
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "tps = "); ok {
			tps, _ = strconv.ParseFloat(strings.Fields(rest)[0], 64)
		}
	}
	r := percentiles(lat, len(lat), d)
	if tps > 0 {
		r.rate = tps
	}
	r.pg, r.clients = pgCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()
	return r, nil
}

// copyRows loads n rows shaped like the small-batch section's events into
// the baseline's organization with one psql \copy and returns its rows/s.
func (b *bench) copyRows(ctx context.Context, n int) (float64, error) {
	path := filepath.Join(b.tmp, "mid.csv")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range n {
		fmt.Fprintf(w, "%d,%d,%s,run:update,user%d@example.com,p%d,\\x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
			b.baseOrgID, 300_000_000_000+int64(i), ts, i%b.cfg.users, i%32)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := b.settle(ctx); err != nil {
		return 0, err
	}
	wall, _, err := b.psql(ctx, `\copy audit_events (org_id, seq, ts, action, actor_email, project_name, hash) from '`+path+`' with (format csv)`, nil)
	if err != nil {
		return 0, err
	}
	return float64(n) / wall.Seconds(), nil
}
