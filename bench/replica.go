package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
)

// The replica section: reads on a streaming standby (serve
// --read-database-url). A private primary and a real standby of it
// (pg_basebackup -R) hold the generated events; then, twice, a server
// ingests at full speed into an organization of its own while one client
// exports the history (NDJSON, the window ending at midnight, so it may
// read the standby) in a loop and 16 clients ask GraphQL for pages of
// past events: once with --read-database-url (reads on the standby), once
// without (everything on the primary). As in a fleet, one server takes the
// ingest and another the reads. The figures: ingest events/s and the
// primary's CPU seconds of each run.

// replicaRun is what one run measured.
type replicaRun struct {
	events      int64 // stored by the ingest
	wall        time.Duration
	primaryCPU  time.Duration
	standbyCPU  time.Duration
	exports     int64 // whole exports finished
	exportBytes int64 // NDJSON bytes exported
	queries     int64 // dashboard queries answered
	failed      int64 // reads that failed (not counted above)
}

func (b *bench) measureReplica(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "ag-replica-") // short: the socket path must fit
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user's, when run as root
		return err
	}
	logf("replica: starting a primary and a streaming standby (pg_basebackup -R) in %s", dir)
	settings := map[string]string{"max_connections": "200"}
	primary, err := pgembed.Start(ctx, pgembed.Config{DataDir: filepath.Join(dir, "p"), Settings: settings})
	if err != nil {
		return err
	}
	defer primary.Stop(context.Background())
	primaryURL := primary.URL("auditgraph")
	pdb, err := sqlx.Open("postgres", primaryURL)
	if err != nil {
		return err
	}
	defer pdb.Close()
	// The first server migrates the primary and creates its organization;
	// the standby is copied after, with the schema.
	srv, err := startServer(ctx, b.bin, primaryURL, b.key)
	if err != nil {
		return err
	}
	srv.stop()
	for mo := monthOf(b.oldestEvent()); !mo.After(b.now); mo = mo.AddDate(0, 1, 0) {
		if _, err := pdb.ExecContext(ctx, `SELECT audit_events_ensure_partition($1)`, mo); err != nil {
			return fmt.Errorf("partition %s: %w", mo.Format("2006-01"), err)
		}
	}
	standby, err := pgembed.StartStandby(ctx, primary, pgembed.Config{DataDir: filepath.Join(dir, "s"),
		Settings: map[string]string{"max_connections": "200", "hot_standby_feedback": "on"}})
	if err != nil {
		return err
	}
	defer standby.Stop(context.Background())
	sdb, err := sqlx.Open("postgres", standby.URL("auditgraph"))
	if err != nil {
		return err
	}
	defer sdb.Close()
	pgPID, sbPID := 0, 0
	if pgPID, err = postmasterOf(ctx, pdb); err != nil {
		return err
	}
	if sbPID, err = postmasterOf(ctx, sdb); err != nil {
		return err
	}

	// The history the readers read: every generated event, in the
	// primary's default organization.
	srv, err = startServer(ctx, b.bin, primaryURL, b.key)
	if err != nil {
		return err
	}
	logf("replica: loading %d events into the primary", len(b.events))
	for i, body := range b.bodies {
		if _, err := replicaPost(ctx, b.client, srv.url, b.key, "default", body); err != nil {
			srv.stop()
			return fmt.Errorf("batch %d: %w", i+1, err)
		}
	}
	srv.stop()
	if _, err := pdb.ExecContext(ctx, `VACUUM (ANALYZE) audit_events`); err != nil {
		return err
	}

	duration := 20 * time.Second
	if b.cfg.quick {
		duration = 5 * time.Second
	}
	runs := map[string]replicaRun{}
	for _, mode := range []string{"standby", "primary"} {
		var flags []string
		if mode == "standby" {
			flags = []string{"--read-database-url", standby.URL("auditgraph")}
		}
		if err := caughtUp(ctx, pdb, sdb); err != nil {
			return err
		}
		if err := b.settle(ctx); err != nil {
			return err
		}
		// Two servers, as in a fleet: one takes the ingest, the other the
		// reads; both with the same flags.
		ingestSrv, err := startServer(ctx, b.bin, primaryURL, b.key, flags...)
		if err != nil {
			return err
		}
		readSrv, err := startServer(ctx, b.bin, primaryURL, b.key, flags...)
		if err != nil {
			ingestSrv.stop()
			return err
		}
		org := "replica-" + mode
		if _, err := pdb.ExecContext(ctx, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise')`, org); err != nil {
			ingestSrv.stop()
			readSrv.stop()
			return err
		}
		logf("replica: reads on the %s: ingest for %s under an export loop and 16 dashboard clients", mode, duration)
		r, err := b.replicaRun(ctx, ingestSrv.url, readSrv.url, org, mode, duration, pgPID, sbPID)
		ingestSrv.stop()
		readSrv.stop()
		if err != nil {
			return err
		}
		runs[mode] = r
		logf("replica: %s: %.0f events/s, primary CPU %s, standby CPU %s, %d exports (%s), %d queries, %d failed reads",
			mode, float64(r.events)/r.wall.Seconds(), secs(r.primaryCPU), secs(r.standbyCPU), r.exports, mib(r.exportBytes), r.queries, r.failed)
	}
	on, off := runs["standby"], runs["primary"]
	onRate, offRate := float64(on.events)/on.wall.Seconds(), float64(off.events)/off.wall.Seconds()
	ratio := onRate / offRate
	b.rows = append(b.rows,
		row{metric: "replica: ingest events/s, reads on the standby (baseline: on the primary)",
			ours: strconv.FormatFloat(onRate, 'f', 0, 64), base: strconv.FormatFloat(offRate, 'f', 0, 64),
			ratio: fmt.Sprintf("%.2fx", ratio), target: ">= 1.5x", pass: ratio >= 1.5},
		row{metric: "replica: primary CPU seconds per second of the run, reads on the standby (baseline: on the primary)",
			ours: fmt.Sprintf("%.2f", on.primaryCPU.Seconds()/on.wall.Seconds()), base: fmt.Sprintf("%.2f", off.primaryCPU.Seconds()/off.wall.Seconds()),
			ratio: fmt.Sprintf("%.2fx", (on.primaryCPU.Seconds()/on.wall.Seconds())/(off.primaryCPU.Seconds()/off.wall.Seconds())), info: true},
	)
	b.notes = append(b.notes, fmt.Sprintf("Replica: a private primary and a streaming standby on this machine (same cores); %d events of history; each run %s: "+
		"reads on the standby: %d events stored, primary CPU %s, standby CPU %s, %d whole exports (%s), %d dashboard queries, %d failed reads; "+
		"reads on the primary: %d events stored, primary CPU %s, standby CPU %s, %d whole exports (%s), %d dashboard queries, %d failed reads. "+
		"On one machine the standby's work competes with the primary's for the same cores, so the ingest gain is smaller than with the standby on its own host; the primary's CPU seconds show what moved.",
		len(b.events), duration,
		on.events, secs(on.primaryCPU), secs(on.standbyCPU), on.exports, mib(on.exportBytes), on.queries, on.failed,
		off.events, secs(off.primaryCPU), secs(off.standbyCPU), off.exports, mib(off.exportBytes), off.queries, off.failed))
	return nil
}

// replicaRun ingests into org through base for d, with the readers on.
func (b *bench) replicaRun(ctx context.Context, ingestURL, base, org, mode string, d time.Duration, pgPID, sbPID int) (replicaRun, error) {
	var r replicaRun
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 32}}
	var wg sync.WaitGroup
	var exports, exported, queries, failed atomic.Int64
	// The export: the whole history up to midnight, as NDJSON.
	// startDate is the window's newest day, numDays the days before it.
	days := int(b.today.Sub(b.oldestEvent()).Hours()/24) + 1
	exportURL := fmt.Sprintf("%s/admin/audit_logs?org=default&startDate=%s&numDays=%d", base, b.today.AddDate(0, 0, -1).Format(time.DateOnly), days)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, exportURL, nil)
			req.SetBasicAuth("admin", b.key)
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					failed.Add(1)
				}
				continue
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			exported.Add(n) // the one cut short at the end too
			if err == nil && resp.StatusCode == http.StatusOK {
				exports.Add(1)
			} else if ctx.Err() == nil {
				failed.Add(1)
			}
		}
	}()
	// 16 dashboard clients: pages of a past day's events.
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for ctx.Err() == nil {
				from := b.today.AddDate(0, 0, -1-rng.IntN(days))
				q := fmt.Sprintf(`{ organization(name: "default") { auditEvents(first: 100, filter: {from: %q, to: %q}) { nodes { sequence action } } } }`,
					from.Format(time.RFC3339), from.AddDate(0, 0, 1).Format(time.RFC3339))
				body, _ := json.Marshal(map[string]string{"query": q})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
				req.SetBasicAuth("admin", b.key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				out, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == http.StatusOK && !bytes.Contains(out, []byte(`"errors"`)) {
					queries.Add(1)
				} else if ctx.Err() == nil {
					failed.Add(1)
				}
			}
		}()
	}
	// The ingest: 4 clients of batches of 1,000 events (so that the batch
	// in flight when the time is up adds little), each batch once per pass
	// with ids of its own.
	var batches [][]byte
	for _, body := range b.bodies {
		for len(body) > 0 {
			cut := len(body)
			if i := nthIndex(body, '\n', 1000); i >= 0 {
				cut = i + 1
			}
			batches = append(batches, body[:cut])
			body = body[cut:]
		}
	}
	var next atomic.Int64
	var stored atomic.Int64
	ingestErr := make(chan error, 4)
	deadline := time.Now().Add(d)
	cpu0, sb0 := clusterCPU(pgPID), clusterCPU(sbPID)
	began := time.Now()
	var iwg sync.WaitGroup
	for range 4 {
		iwg.Add(1)
		go func() {
			defer iwg.Done()
			for time.Now().Before(deadline) {
				i := next.Add(1) - 1
				pass, k := i/int64(len(batches)), i%int64(len(batches))
				body := bytes.ReplaceAll(batches[k], []byte(`{"id":"`), []byte(`{"id":"`+mode+strconv.FormatInt(pass, 10)+"-"))
				n, err := replicaPost(ctx, client, ingestURL, b.key, org, body)
				if err != nil {
					ingestErr <- err
					return
				}
				stored.Add(int64(n))
			}
		}()
	}
	iwg.Wait()
	r.wall = time.Since(began)
	r.primaryCPU, r.standbyCPU = clusterCPU(pgPID)-cpu0, clusterCPU(sbPID)-sb0
	cancel()
	wg.Wait()
	select {
	case err := <-ingestErr:
		return r, err
	default:
	}
	r.events, r.exports, r.exportBytes, r.queries, r.failed = stored.Load(), exports.Load(), exported.Load(), queries.Load(), failed.Load()
	return r, nil
}

// replicaPost reports an NDJSON body to org and returns how many events
// were stored.
func replicaPost(ctx context.Context, client *http.Client, base, key, org string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/audit_events?org="+org, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth("admin", key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /api/v1/audit_events: %s: %s", resp.Status, reply)
	}
	var res struct{ Stored int }
	if err := json.Unmarshal(reply, &res); err != nil {
		return 0, err
	}
	return res.Stored, nil
}

// oldestEvent returns the time of the oldest generated event.
func (b *bench) oldestEvent() time.Time {
	oldest := b.now
	for i := range b.events {
		if b.events[i].ts.Before(oldest) {
			oldest = b.events[i].ts
		}
	}
	return oldest
}

// postmasterOf returns the pid of db's PostgreSQL server: the parent of a
// backend.
func postmasterOf(ctx context.Context, db *sqlx.DB) (int, error) {
	var backend int
	if err := db.GetContext(ctx, &backend, `SELECT pg_backend_pid()`); err != nil {
		return 0, err
	}
	f, err := procStat(backend)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// clusterCPU is the CPU time of a PostgreSQL server and its processes, as
// cpuNow counts the bench's.
func clusterCPU(postmaster int) time.Duration {
	b := &bench{postmaster: postmaster}
	return b.cpuNow().pg
}

// caughtUp waits until the standby has replayed all the primary's WAL.
func caughtUp(ctx context.Context, primary, standby *sqlx.DB) error {
	var lsn string
	if err := primary.GetContext(ctx, &lsn, `SELECT pg_current_wal_lsn()::text`); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var done bool
		if err := standby.GetContext(ctx, &done, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn); err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the standby has not replayed up to %s after 2 minutes", lsn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nthIndex returns the index of the nth c in b, or -1.
func nthIndex(b []byte, c byte, n int) int {
	off := 0
	for range n {
		i := bytes.IndexByte(b[off:], c)
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off - 1
}
