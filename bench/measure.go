package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// psql runs one psql command against the bench database and returns its
// wall time, process start to exit, and the CPU time psql itself used. Its
// stdout goes to stdout, nil discarding it.
func (b *bench) psql(ctx context.Context, command string, stdout io.Writer) (wall, cpu time.Duration, err error) {
	cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.dbURL, "-c", command)
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if err != nil {
		return wall, 0, fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// settle writes dirty buffers out before a timed step, so that neither side
// pays for the other's checkpoint.
func (b *bench) settle(ctx context.Context) error {
	_, err := b.db.ExecContext(ctx, `CHECKPOINT`)
	return err
}

func (b *bench) count(ctx context.Context, org int64, start, end time.Time) (int, error) {
	var n int
	err := b.db.GetContext(ctx, &n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND ts >= $2 AND ts < $3`, org, start, end)
	return n, err
}

func (b *bench) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.srv.url+path, r)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("admin", b.key)
	return req, nil
}

// measureIngest loads the events through psql's \copy into the baseline's
// organization, then through POST /api/v1/audit_events into the server's.
func (b *bench) measureIngest(ctx context.Context) error {
	n := len(b.events)
	if err := b.settle(ctx); err != nil {
		return err
	}
	logf("baseline: psql \\copy of %d rows (%s CSV)", n, mib(b.csvSize))
	cpu0 := b.cpuNow()
	baseDur, psqlCPU, err := b.psql(ctx, fmt.Sprintf(`\copy audit_events(%s) from '%s' with (format csv)`, csvColumns(), b.csvPath), nil)
	if err != nil {
		return err
	}
	baseCPU := b.cpuNow().sub(cpu0)
	var got int
	if err := b.db.GetContext(ctx, &got, `SELECT count(*) FROM audit_events WHERE org_id = $1`, b.baseOrgID); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("baseline loaded %d rows, want %d", got, n)
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE organizations SET last_seq = $2 WHERE id = $1`, b.baseOrgID, n); err != nil {
		return err
	}
	logf("baseline: %s, %.0f rows/s", baseDur.Round(time.Millisecond), float64(n)/baseDur.Seconds())

	// Vacuum the baseline's rows now, so that autovacuum does not do it
	// while auditgraph's ingest is timed.
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events`); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	logf("auditgraph: ingesting %d batches of %d events (%s NDJSON)", len(b.bodies), b.cfg.batch, mib(b.ndjsonSize))
	var total time.Duration
	stored := 0
	cpu0 = b.cpuNow()
	for i, body := range b.bodies {
		req, err := b.request(ctx, http.MethodPost, "/api/v1/audit_events", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		start := time.Now()
		resp, err := b.client.Do(req)
		if err != nil {
			return err
		}
		reply, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		total += time.Since(start)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("batch %d: %s: %s", i+1, resp.Status, reply)
		}
		var res struct{ Received, Stored, Duplicates int }
		if err := json.Unmarshal(reply, &res); err != nil {
			return fmt.Errorf("batch %d: %w", i+1, err)
		}
		if lines := bytes.Count(body, []byte{'\n'}); res.Stored != lines {
			return fmt.Errorf("batch %d: stored %d of %d events: %s", i+1, res.Stored, lines, reply)
		}
		stored += res.Stored
		if (i+1)%max(len(b.bodies)/10, 1) == 0 {
			logf("auditgraph: %d/%d batches, %.0f events/s so far", i+1, len(b.bodies), float64(stored)/total.Seconds())
		}
	}
	ourCPU := b.cpuNow().sub(cpu0)
	ours, base := float64(n)/total.Seconds(), float64(n)/baseDur.Seconds()
	b.rows = append(b.rows, row{
		metric: "ingest, events/s",
		ours:   fmt.Sprintf("%.0f", ours), base: fmt.Sprintf("%.0f", base),
		ratio: fmt.Sprintf("%.2f", ours/base), target: "≥ 0.60", pass: ours/base >= 0.6,
	})
	b.notes = append(b.notes, fmt.Sprintf("Ingest: auditgraph %s for %d requests (sum of request wall times; CPU: PostgreSQL %s, server %s, client %s); psql %s (whole command; CPU: PostgreSQL %s, psql %s).",
		total.Round(time.Millisecond), len(b.bodies), secs(ourCPU.pg), secs(ourCPU.server), secs(ourCPU.self),
		baseDur.Round(time.Millisecond), secs(baseCPU.pg), secs(psqlCPU)))

	var days, members int
	if err := b.db.GetContext(ctx, &days, `SELECT count(*) FROM activity_days WHERE org_id = $1`, b.orgID); err != nil {
		return err
	}
	if err := b.db.GetContext(ctx, &members, `SELECT count(*) FROM memberships WHERE org_id = $1 AND last_active_at IS NOT NULL`, b.orgID); err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("Activity capture during ingest recorded %d member-days for %d of the %d members.", days, members, b.cfg.users+1))
	logf("auditgraph: %s, %.0f events/s (%.2f of the baseline)", total.Round(time.Millisecond), ours, ours/base)
	return nil
}

// fetchNDJSON reads a whole NDJSON answer and returns its wall time (request
// to end of body), its line count and its size.
func (b *bench) fetchNDJSON(ctx context.Context, query string) (time.Duration, int, int64, error) {
	req, err := b.request(ctx, http.MethodGet, "/admin/audit_logs?"+query, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return 0, 0, 0, fmt.Errorf("GET /admin/audit_logs?%s: %s: %s", query, resp.Status, msg)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		return 0, 0, 0, fmt.Errorf("unexpected Content-Encoding %q", ce)
	}
	buf := make([]byte, 256<<10)
	lines, size := 0, int64(0)
	for {
		k, err := resp.Body.Read(buf)
		lines += bytes.Count(buf[:k], []byte{'\n'})
		size += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, 0, err
		}
	}
	return time.Since(start), lines, size, nil
}

// baselineSelect is the baseline's query: the 19 documented keys as
// columns (without the PII ones when anonymized), in the API's order.
func (b *bench) baselineSelect(anonymize bool, start, end time.Time) string {
	var cols []string
	for _, k := range audit.Keys {
		switch {
		case anonymize && k.IsPII():
		case k == audit.KeyTimestamp:
			cols = append(cols, "ts as timestamp")
		default:
			cols = append(cols, string(k))
		}
	}
	return fmt.Sprintf(`select row_to_json(t) from (select %s from audit_events where org_id = %d and ts >= '%s' and ts < '%s' order by ts, seq) t`,
		strings.Join(cols, ", "), b.orgID, start.Format(time.RFC3339), end.Format(time.RFC3339))
}

// measureFetch streams the whole history of the server's organization,
// plain and anonymized, against psql's \copy of the same rows as JSON.
func (b *bench) measureFetch(ctx context.Context) error {
	logf("VACUUM (ANALYZE) audit_events before reading")
	if _, err := b.db.ExecContext(ctx, `VACUUM (ANALYZE) audit_events`); err != nil {
		return err
	}
	if err := b.settle(ctx); err != nil {
		return err
	}
	start, end := b.today.AddDate(0, 0, -b.cfg.days), b.today.AddDate(0, 0, 1)
	want, err := b.count(ctx, b.orgID, start, end)
	if err != nil {
		return err
	}
	for _, anonymize := range []bool{false, true} {
		q := url.Values{"startDate": {b.today.Format(time.DateOnly)}, "numDays": {strconv.Itoa(b.cfg.days)}}
		name, target := "fetch, rows/s", 0.7
		if anonymize {
			q.Set("anonymize", "true")
			name, target = "fetch anonymized, rows/s", 0.5
		}
		copyCmd := `\copy (` + b.baselineSelect(anonymize, start, end) + `) to stdout`
		ours, base := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
		var (
			size            int64
			ourCPU, baseCPU cpuTimes
			psqlCPU         time.Duration
		)
		for run := 1; run <= b.cfg.fetchRuns; run++ {
			cpu0 := b.cpuNow()
			d, lines, n, err := b.fetchNDJSON(ctx, q.Encode())
			if err != nil {
				return err
			}
			if lines != want {
				return fmt.Errorf("GET /admin/audit_logs?%s returned %d lines, want %d", q.Encode(), lines, want)
			}
			if d < ours {
				ours, size, ourCPU = d, n, b.cpuNow().sub(cpu0)
			}
			cpu0 = b.cpuNow()
			bd, pc, err := b.psql(ctx, copyCmd, nil)
			if err != nil {
				return err
			}
			if bd < base {
				base, baseCPU, psqlCPU = bd, b.cpuNow().sub(cpu0), pc
			}
			logf("%s run %d: auditgraph %s, psql %s", name, run, d.Round(time.Millisecond), bd.Round(time.Millisecond))
		}
		o, bs := float64(want)/ours.Seconds(), float64(want)/base.Seconds()
		b.rows = append(b.rows, row{
			metric: name, ours: fmt.Sprintf("%.0f", o), base: fmt.Sprintf("%.0f", bs),
			ratio: fmt.Sprintf("%.2f", o/bs), target: fmt.Sprintf("≥ %.2f", target), pass: o/bs >= target,
		})
		b.notes = append(b.notes, fmt.Sprintf("%s: %d rows, %s of NDJSON; best of %d: auditgraph %s (CPU: PostgreSQL %s, server %s, client %s), psql %s (CPU: PostgreSQL %s, psql %s).",
			strings.TrimSuffix(name, ", rows/s"), want, mib(size), b.cfg.fetchRuns,
			ours.Round(time.Millisecond), secs(ourCPU.pg), secs(ourCPU.server), secs(ourCPU.self),
			base.Round(time.Millisecond), secs(baseCPU.pg), secs(psqlCPU)))
	}
	return nil
}

// page reads one page of the paginated API.
func (b *bench) page(ctx context.Context, q url.Values, cursor string) (time.Duration, string, int, error) {
	if cursor != "" {
		q = cloneValues(q)
		q.Set("cursor", cursor)
	}
	req, err := b.request(ctx, http.MethodGet, "/admin/audit_logs?"+q.Encode(), nil)
	if err != nil {
		return 0, "", 0, err
	}
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", 0, fmt.Errorf("GET /admin/audit_logs: %s: %s", resp.Status, body)
	}
	var p struct {
		Count      int     `json:"count"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 0, "", 0, err
	}
	next := ""
	if p.NextCursor != nil {
		next = *p.NextCursor
	}
	return d, next, p.Count, nil
}

func cloneValues(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	return c
}

// measurePagination compares a deep page with the first one.
func (b *bench) measurePagination(ctx context.Context) error {
	const limit = 100
	start, end := b.today.AddDate(0, 0, -b.cfg.days), b.today.AddDate(0, 0, 1)
	q := url.Values{"startDate": {start.Format(time.DateOnly)}, "endDate": {end.Format(time.DateOnly)}, "limit": {strconv.Itoa(limit)}}
	total, err := b.count(ctx, b.orgID, start, end)
	if err != nil {
		return err
	}
	deep, label := 10_000, "10,000"
	if total/limit < deep {
		deep = total / limit
		label = fmt.Sprintf("%s, the last full one (not 10,000: only %d events)", thousands(deep), total)
	}
	logf("pagination: walking next_cursor to page %s (limit %d)", label, limit)
	cursor := ""
	for p := 1; p < deep; p++ {
		_, next, n, err := b.page(ctx, q, cursor)
		if err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
		if n != limit || next == "" {
			return fmt.Errorf("page %d: %d events, next cursor %q", p, n, next)
		}
		cursor = next
		if p%1000 == 0 {
			logf("pagination: page %d", p)
		}
	}
	var first, last []time.Duration
	for i := 0; i < b.cfg.pageRuns; i++ {
		d, _, n, err := b.page(ctx, q, "")
		if err != nil || n != limit {
			return fmt.Errorf("page 1: %d events, %v", n, err)
		}
		first = append(first, d)
		d, _, n, err = b.page(ctx, q, cursor)
		if err != nil || n != limit {
			return fmt.Errorf("page %d: %d events, %v", deep, n, err)
		}
		last = append(last, d)
	}
	m1, mDeep := median(first), median(last)
	ratio := mDeep.Seconds() / m1.Seconds()
	metric := fmt.Sprintf("pagination, median ms: page %s vs page 1", thousands(deep))
	b.rows = append(b.rows, row{
		metric: metric, ours: ms(mDeep), base: ms(m1),
		ratio: fmt.Sprintf("%.2f", ratio), target: "≤ 1.20", pass: ratio <= 1.2,
	})
	b.notes = append(b.notes, fmt.Sprintf("Pagination: limit=%d over %d events; deep page is page %s; %d timed requests of each, alternating; page 1 min/max %s/%s ms, deep page min/max %s/%s ms.",
		limit, total, label, b.cfg.pageRuns, ms(slices.Min(first)), ms(slices.Max(first)), ms(slices.Min(last)), ms(slices.Max(last))))
	logf("pagination: page 1 %s ms, page %s %s ms", ms(m1), thousands(deep), ms(mDeep))
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 2, 64) }

// measureMemory compares the server's peak RSS after streaming a window of
// about a tenth of the events with its peak after streaming all of them,
// each in a freshly started process.
func (b *bench) measureMemory(ctx context.Context) error {
	fetch := func(numDays int) (idle, peak int64, lines int, err error) {
		b.srv.stop()
		b.srv = nil
		if b.srv, err = startServer(ctx, b.bin, b.dbURL, b.key); err != nil {
			return
		}
		if idle, err = b.srv.peakRSS(); err != nil {
			return
		}
		q := url.Values{"startDate": {b.today.Format(time.DateOnly)}, "numDays": {strconv.Itoa(numDays)}}
		if _, lines, _, err = b.fetchNDJSON(ctx, q.Encode()); err != nil {
			return
		}
		peak, err = b.srv.peakRSS()
		return
	}
	logf("memory: fresh server, fetching numDays=%d", b.smallDays)
	smallIdle, small, smallLines, err := fetch(b.smallDays)
	if err != nil {
		return err
	}
	logf("memory: fresh server, fetching numDays=%d", b.cfg.days)
	bigIdle, big, bigLines, err := fetch(b.cfg.days)
	if err != nil {
		return err
	}
	growth := big - small
	b.rows = append(b.rows, row{
		metric: fmt.Sprintf("server peak RSS: fetch of %s vs %s events", thousands(bigLines), thousands(smallLines)),
		ours:   mib(big), base: mib(small), ratio: fmt.Sprintf("%+.1f MiB", float64(growth)/(1<<20)),
		target: "growth < 32 MiB", pass: growth < 32<<20,
	})
	b.notes = append(b.notes, fmt.Sprintf("Memory: numDays=%d (%d events) and numDays=%d (%d events), each in a fresh server process; VmHWM right after start was %s and %s.",
		b.smallDays, smallLines, b.cfg.days, bigLines, mib(smallIdle), mib(bigIdle)))
	logf("memory: %s after %d events, %s after %d events", mib(small), smallLines, mib(big), bigLines)
	return nil
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
