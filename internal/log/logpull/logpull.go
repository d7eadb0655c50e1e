// Package logpull fetches an organization's audit logs from an auditgraph
// (or W&B) server's paginated GET /admin/audit_logs into daily NDJSON files
// in a folder or a bucket, resuming where the last run stopped.
//
// The pull walks time in ranges of at most one UTC day, each ending no later
// than now minus a settle delay. Within a range it follows next_cursor
// until it is null, which the server guarantees returns each event of the
// range once. Its position is a state file, replaced atomically after every
// page: the range, the cursor of the next page, and the size of the day's
// file once the page's lines were synced to disk. A run that was killed
// cuts the file back to that size and continues from that cursor, so
// nothing is lost or written twice.
package logpull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is one pull.
type Config struct {
	// URL is the server's base URL (https://host).
	URL string
	// Username and APIKey authenticate with HTTP Basic.
	Username, APIKey string
	// Org names the organization (?org=); empty: the caller's API org.
	Org       string
	Anonymize bool
	// Out is where the files go.
	Out Sink
	// StatePath is the state file.
	StatePath string
	// Since is where a first run starts.
	Since time.Time
	// Settle is how far behind now a range ends, so that events still being
	// reported with a timestamp just past are not skipped (the command's
	// default is 1 minute).
	Settle time.Duration
	// PageSize is the limit of each request (default 5,000).
	PageSize int
	// Client defaults to an http.Client with a 2-minute timeout.
	Client *http.Client
	// Progress, when not nil, gets a progress line rewritten in place.
	Progress io.Writer
	// Now defaults to time.Now.
	Now func() time.Time
	// Retries is how many times a failed request is tried again (default
	// 3), after RetryWait doubling from 1 second.
	Retries   int
	RetryWait time.Duration
}

// Result says what a pull did.
type Result struct {
	Events int
	Pages  int
	// Position is the end of everything fetched so far.
	Position time.Time
}

// Pull fetches everything new since the last run, as recorded in the state
// file, up to now minus the settle delay.
func Pull(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	var res Result
	unlock, err := lockState(cfg.StatePath)
	if err != nil {
		return res, err
	}
	defer unlock()
	st, err := loadState(cfg.StatePath)
	if err != nil {
		return res, err
	}
	if st == nil {
		st = &State{Version: stateVersion, URL: cfg.URL, Org: cfg.Org, Anonymize: cfg.Anonymize, Position: cfg.Since.UTC().Truncate(time.Second)}
	} else if err := st.matches(cfg); err != nil {
		return res, err
	}
	end := cfg.Now().UTC().Add(-cfg.Settle).Truncate(time.Second)
	p := &puller{cfg: cfg, st: st, res: &res}
	defer p.progressDone()
	for st.Range != nil || st.Position.Before(end) {
		if err := p.pullRange(ctx, end); err != nil {
			res.Position = st.Position
			return res, err
		}
	}
	res.Position = st.Position
	return res, nil
}

func (c *Config) defaults() {
	if c.PageSize == 0 {
		c.PageSize = 5000
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Retries == 0 {
		c.Retries = 3
	}
	if c.RetryWait == 0 {
		c.RetryWait = time.Second
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
}

type puller struct {
	cfg          Config
	st           *State
	res          *Result
	progressShow bool
}

// pullRange fetches the range under way, or starts the next one: from the
// position to the next UTC midnight or end, whichever comes first.
func (p *puller) pullRange(ctx context.Context, end time.Time) error {
	st := p.st
	if st.Range == nil {
		start := st.Position
		stop := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, time.UTC)
		if stop.After(end) {
			stop = end
		}
		r := &Range{Start: start, End: stop, File: start.Format(time.DateOnly) + ".ndjson"}
		size, err := p.cfg.Out.Size(ctx, r.File)
		if err != nil {
			return err
		}
		r.Size = size
		st.Range = r
		if err := saveState(p.cfg.StatePath, st); err != nil {
			return err
		}
	}
	r := st.Range
	w, err := p.cfg.Out.Open(ctx, r)
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		page, err := p.fetch(ctx, r)
		if err != nil {
			return err
		}
		var lines bytes.Buffer
		for _, e := range page.AuditLogs {
			lines.Write(e)
			lines.WriteByte('\n')
		}
		size, err := w.Append(lines.Bytes())
		if err != nil {
			return err
		}
		p.res.Pages++
		p.res.Events += len(page.AuditLogs)
		if page.NextCursor == nil {
			if err := w.Finish(ctx); err != nil {
				return err
			}
			st.Position, st.Range = r.End, nil
			p.progress()
			return saveState(p.cfg.StatePath, st)
		}
		r.Cursor, r.Size = *page.NextCursor, size
		if err := saveState(p.cfg.StatePath, st); err != nil {
			return err
		}
		p.progress()
	}
}

// page is the paginated answer of GET /admin/audit_logs.
type page struct {
	AuditLogs  []json.RawMessage `json:"audit_logs"`
	Count      int               `json:"count"`
	NextCursor *string           `json:"next_cursor"`
}

// instantFormat is the finest startDate/endDate the API takes.
const instantFormat = "2006-01-02T15:04:05"

func (p *puller) fetch(ctx context.Context, r *Range) (page, error) {
	q := url.Values{}
	q.Set("startDate", r.Start.Format(instantFormat))
	q.Set("endDate", r.End.Format(instantFormat))
	q.Set("limit", fmt.Sprint(p.cfg.PageSize))
	if r.Cursor != "" {
		q.Set("cursor", r.Cursor)
	}
	if p.cfg.Anonymize {
		q.Set("anonymize", "true")
	}
	if p.cfg.Org != "" {
		q.Set("org", p.cfg.Org)
	}
	u := p.cfg.URL + "/admin/audit_logs?" + q.Encode()
	wait := p.cfg.RetryWait
	for attempt := 0; ; attempt++ {
		pg, retry, err := p.get(ctx, u)
		if err == nil || !retry || attempt >= p.cfg.Retries {
			return pg, err
		}
		select {
		case <-ctx.Done():
			return pg, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// get does one request; retry says whether trying again may help.
func (p *puller) get(ctx context.Context, u string) (page, bool, error) {
	var pg page
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return pg, false, fmt.Errorf("--url: %w", err)
	}
	req.SetBasicAuth(p.cfg.Username, p.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return pg, false, ctx.Err()
		}
		// The error names the URL, which holds no secret: the key travels in
		// the Authorization header.
		return pg, true, fmt.Errorf("GET /admin/audit_logs: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return pg, true, fmt.Errorf("GET /admin/audit_logs: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 300 {
			msg = msg[:300]
		}
		err := fmt.Errorf("GET /admin/audit_logs: %s: %s", resp.Status, msg)
		if resp.StatusCode == http.StatusUnauthorized {
			err = fmt.Errorf("%w (check --username and --api-key)", err)
		}
		return pg, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, err
	}
	if err := json.Unmarshal(body, &pg); err != nil || pg.AuditLogs == nil {
		return pg, false, fmt.Errorf("GET /admin/audit_logs: not a paginated audit-log answer (is --url an auditgraph or W&B server?)")
	}
	if pg.Count != len(pg.AuditLogs) {
		return pg, true, fmt.Errorf("GET /admin/audit_logs: count %d but %d events", pg.Count, len(pg.AuditLogs))
	}
	return pg, false, nil
}

func (p *puller) progress() {
	if p.cfg.Progress == nil {
		return
	}
	p.progressShow = true
	fmt.Fprintf(p.cfg.Progress, "\r\x1b[Kpulled %d events in %d pages, at %s", p.res.Events, p.res.Pages, p.position().Format(time.RFC3339))
}

func (p *puller) position() time.Time {
	if p.st.Range != nil {
		return p.st.Range.Start
	}
	return p.st.Position
}

func (p *puller) progressDone() {
	if p.progressShow {
		fmt.Fprintln(p.cfg.Progress)
	}
}

// ErrStateMismatch means the state file belongs to a pull of another
// server, organization or anonymization.
var ErrStateMismatch = errors.New("state file belongs to another pull")
